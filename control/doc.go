// Package control is fanoutd's control plane: the server API that acts on
// live connections (disconnect, revoke, server-side subscribe and
// unsubscribe), reads and clears channel history, lists connections and
// taps the event stream, on every node that shares a broker.
//
// # Routes
//
// Handler serves them; the composition root mounts it behind the publish
// API's authentication (ipc.Options.Mount): the Unix socket's file
// permissions and peer allowlist, or the TCP API's bearer key.
//
//	POST   /v1/disconnect  {"user"|"connection_id"|"channel"|"jti": "…", "code": 4004, "reason": "…"}
//	POST   /v1/revoke      {"user"|"jti": "…", "for": "1h" | "until": "2026-12-05T00:00:00Z", "reason": "…"}
//	DELETE /v1/revoke      {"user"|"jti": "…"}                 ends a revocation early
//	GET    /v1/revocations                                    the revocations in force
//	POST   /v1/subscribe   {"user"|"connection_id": "…", "channel": "…"}
//	POST   /v1/unsubscribe {"user"|"connection_id": "…" (none: every subscriber), "channel": "…", "reason": "…"}
//	GET    /v1/connections?user=&channel=[&local=1]           every node's connections (local: this one's)
//	GET    /v1/channels/{channel}/history?since=&epoch=&limit=
//	DELETE /v1/channels/{channel}/history
//	GET    /v1/nodes                                          the nodes this one hears
//	GET    /v1/tap?channels=project:*,user:*                  NDJSON, Unix socket only
//
// An action is answered once every node known to be up has applied it, or
// after Options.Timeout, with what each did:
//
//	{"id":"…","action":{…},"applied":3,"nodes":[{"node":"a1","applied":2},{"node":"b2","applied":1}],
//	 "missing":["c3"]}
//
// "missing" names the nodes that did not answer in time. Errors are
// {"error":"…"}: 400 for a bad action (a channel name no client could
// subscribe to included: Node.CheckChannel, once, before the bus), 413 for
// a body over Options.MaxBodyBytes, 405 with Allow for another method on a
// control path, 503 when the broker could not keep a revocation or carry
// the action. api/openapi.yaml describes every route and answer.
//
// # Across nodes
//
// Actions travel on a Bus (Redis pub/sub, a NATS subject; LocalBus without
// a broker), this node's own included, so every node applies them the same
// way, in the order it receives them, on one worker goroutine. Nodes say
// "hello" on the bus every Options.HelloInterval: the origin of an action
// waits for the nodes it heard from in the last three intervals, each of
// which answers with how many of its connections it acted on (0 when none
// matched). A node that stops says "bye" and is no longer waited for.
//
// A revocation is kept in the Store (a Redis key with the revocation's
// expiry; a NATS key-value entry) before it is sent, so a node that
// restarts loads it (Load) before it serves a handshake. Each node checks
// its list at every handshake and token refresh (Revoked), and forgets
// entries once they end.
//
// # Tap
//
// Event is called for every event published through this node; while no
// tap is open, here or on another node, it costs two atomic loads. A node
// announces what its taps follow in its hellos, and the others forward
// the matching events on the bus from a bounded queue that drops when
// full. An open tap has a bounded queue of
// lines: publishing offers a line and moves on, a full queue drops it, and
// the tap is told {"kind":"dropped","count":N}. A slow tap therefore never
// slows delivery. Control actions applied here appear as "control" lines.
//
// # Concurrency
//
// Plane is safe for concurrent use. Lock order: Plane.mu (peers, waiters)
// and the revocation and tap locks never nest, and none is held while the
// Node or the Bus is called. The Node serialises an action with each
// connection's own traffic (the core's per-session lock).
//
// # Usage
//
//	p := control.New(control.Options{Node: nodeAdapter, Bus: redisBroker.Control(), Store: redisBroker.Control()})
//	_ = p.Load(ctx)       // revocations kept by the broker
//	go p.Run(ctx)
//	h := p.Handler(true)  // mounted on the Unix socket's API
package control
