// Package redisbroker is a daemon.Broker over Redis: several fanoutd nodes
// share channels through one Redis server, a Sentinel-managed master, a
// Redis Cluster, or several servers (Sharded).
//
// A publish runs one Lua script, so numbering, storing and broadcasting
// are atomic: HINCRBY on the channel's meta hash gives the offset (its
// "epoch" field names the numbering), XADD appends the event to the
// channel's stream with the offset as its ID (trimmed to about the
// channel's history size; History replays no more than the size), an
// optional SET remembers the idempotency key, and PUBLISH sends
// "offset\nepoch\ntype\npayload" to the nodes subscribed to the channel.
// A node subscribes (Redis pub/sub) only to channels with local
// subscribers, and counts its Subscribe/Unsubscribe calls per channel.
//
// # Positions are never reused
//
// An (epoch, offset) pair must name one event forever, on every node. Redis
// can go back in time under us: a restart loads an RDB snapshot older than
// the last writes (or an AOF missing its last second), a failover promotes
// a replica that had not received them, FLUSHALL or eviction drops a meta
// hash. Keeping the epoch then hands out offsets that were already
// acknowledged for other events, and a client resuming from one of them
// would get recovered:true over a partial replay.
//
// So the epoch is tied to what can prove continuity, inside the scripts
// themselves (continuity in script.go), not in a separate check that could
// race with them:
//
//   - The meta hash holds "run", the run_id of the Redis process that last
//     used the channel. Every Redis process start (restart, whatever the
//     persistence) and every replica has its own run_id, and writing "run"
//     is part of the same atomic script as the data it vouches for. A
//     script that finds another run_id cannot tell what was lost, so it
//     starts a new random epoch at offset 0 and deletes the stream. A
//     snapshot restore, a failover (Sentinel or cluster) and a plain
//     restart all land here; the price is that a restart which lost
//     nothing also costs subscribers a missed frame and a refetch.
//   - A meta hash that is gone (FLUSHALL, DEL, eviction) starts a new epoch
//     on the next publish, as before; a read of it answers epoch "", which
//     no client position matches.
//   - Each node remembers the highest position it saw per channel (seen.go,
//     from deliveries, publishes and reads) and passes it to every script:
//     an offset below it in the same epoch is a rollback the run_id did not
//     reveal (a key restored by hand, DEBUG RELOAD of an old file), and
//     starts a new epoch too.
//   - A deleted or trimmed stream keeps the epoch and the offsets going
//     (HINCRBY is on the meta hash); History then finds entries missing and
//     answers ok=false: recovered:false, never a partial replay.
//
// Reads (Position, History) run the same check in one script with the
// XRANGE, so a new epoch cannot slip in between the position and the
// entries. A new epoch a read starts is the one the next publish uses.
//
// # Publishes run at most once
//
// go-redis retries a command after a read timeout by default, which would
// run a publish script a second time: two offsets for one event, or a
// first-time idempotency key answered as a duplicate. Every client here is
// built with MaxRetries -1, and the cluster client's own pipeline (which
// retries timeouts too) is not used for publishes: they are pipelined to
// the slot's master directly. A publish that was sent and not answered is
// an *OutcomeUnknownError (OutcomeUnknown() true: the publish API's 504
// "outcome":"unknown"); one that certainly did not run (an error reply, no
// connection) is an ordinary error (503). Only replies that prove the
// script did not run (NOSCRIPT, MOVED, ASK, TRYAGAIN, CLUSTERDOWN) lead to
// sending it again.
//
// # Pipelining
//
// Publish queues the request; two pipeline goroutines each take every
// request queued at that moment (up to maxBatch) and send them as one
// pipeline of EVALSHA, one round trip for many concurrent publishes, each
// script still atomic with its own answer. A call's events are grouped by
// channel: one continuity check and one HINCRBY per channel, not per event
// (script.go). The call's answer is one string that publish.go parses by
// hand (nextAnswer): read as an array of arrays, go-redis allocated a
// slice and two boxed values per event. While other publishes are
// pending, a pipeline with a small batch first yields the processor a few
// times to let them join (linger in publish.go): a lone publish never
// waits. Calls of one publisher stay in order (a caller waits for its
// answer before the next call).
//
// # Receiving and healing
//
// One goroutine reads the pub/sub connection and hands events to the node
// in order (daemon.Node.Deliver). When the connection breaks, go-redis
// reconnects and subscribes again; the first confirmation after a break
// makes the node catch up from the streams (daemon.Node.Resync), so what
// was published during the outage is delivered or reported as missed. An
// error reply on the link (NOAUTH, LOADING…) leaves go-redis's connection
// open and subscribed to nothing, so the broker starts a new link then.
// NotReady says what Redis last answered, for /readyz and the logs.
//
// In a Redis Cluster (Options.ClusterAddrs, Redis ≥ 7) live events use
// sharded pub/sub: SPUBLISH in the script, SSUBSCRIBE on one link per slot
// master, channels following their slot when it moves (cluster.go).
//
// Keys, under Options.Prefix (default "fanoutd"), all with the channel as
// Redis Cluster hash tag: {p}:m:{channel} (meta hash: epoch, offset, run),
// {p}:s:{channel} (stream), {p}:i:{channel}:{key} (idempotency),
// {p}:pr:{channel} (presence); pub/sub channel {p}:c:{channel}.
//
//	b, err := redisbroker.New(redisbroker.Options{Addr: "127.0.0.1:6379"})
//	node := daemon.New(daemon.Options{Broker: b})
//	b.Start(node)
//	defer b.Close()
package redisbroker
