// Package redisbroker is a daemon.Broker over Redis: several fanoutd nodes
// share channels through one Redis server.
//
// A publish runs one Lua script, so numbering, storing and broadcasting
// are atomic: HINCRBY on the channel's meta hash gives the offset (its
// "epoch" field, set on first use, names the numbering), XADD appends the
// event to the channel's stream with the offset as its ID (trimmed to the
// channel's history size), an optional SET remembers the idempotency key,
// and PUBLISH sends "offset\nepoch\ntype\npayload" to the nodes subscribed
// to the channel. A node subscribes (Redis pub/sub) only to channels with
// local subscribers, and counts its Subscribe/Unsubscribe calls per
// channel.
//
// One goroutine reads the pub/sub connection and hands events to the node
// in order (daemon.Node.Deliver). When the connection breaks, go-redis
// reconnects and subscribes again; the first confirmation after a break
// makes the node catch up from the streams (daemon.Node.Resync), so what
// was published during the outage is delivered or reported as missed.
//
// Keys, under Options.Prefix (default "fanoutd"): {p}:m:{channel} (meta
// hash), {p}:s:{channel} (stream), {p}:i:{channel}:{key} (idempotency);
// pub/sub channel {p}:c:{channel}.
//
//	b, err := redisbroker.New(redisbroker.Options{Addr: "127.0.0.1:6379"})
//	node := daemon.New(daemon.Options{Broker: b})
//	b.Start(node)
//	defer b.Close()
package redisbroker
