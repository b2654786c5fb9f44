// Package ipc is fanoutd's local publish API: applications on the same host
// send events over HTTP on a Unix socket (and, when an API key is set, on
// TCP) and the daemon fans them out to browsers. It also holds a small Go
// client for that API.
//
// # Endpoints
//
//	POST /v1/publish   publish one event, an array, or NDJSON
//	POST /v1/publish/stream  a persistent publish stream: NDJSON events in,
//	                   one ack line per event out, pipelined (stream.go)
//	GET  /v1/stats     the Publisher's Stats() as JSON
//	GET  /v1/openapi.yaml  the API's OpenAPI 3.1 description (with
//	                   Options.OpenAPI; api/openapi.yaml in the repository)
//	POST /v1/reload    re-read the daemon's configuration (Unix socket only;
//	                   with Options.Reloader): 200 with the Reloader's report,
//	                   400 {"error":"invalid configuration","errors":["key: …"]}
//	                   when it was refused and the old one kept
//
// An event is {"channel":"…","type":"…","payload":<any JSON>}; payload is
// optional. The ADR spelling {"projectId":"abc",…} means channel
// "project:abc" (when both are given they must agree). Any other member is
// an error. The body is one of:
//
//   - one event object;
//   - a JSON array of event objects;
//   - with Content-Type application/x-ndjson (or application/ndjson), one
//     event object per line, blank lines ignored.
//
// Any other Content-Type, or none, is parsed as JSON: `curl -d` sends
// application/x-www-form-urlencoded by default and should just work. A body
// that is not JSON is then answered "malformed JSON".
//
// A batch is validated whole before anything is published: every event is
// decoded and passed to Publisher.CheckEvent, and if any fails nothing is
// published. Then events are published in order, stopping at the first
// Publish error; the answer says how many went out. Answers (all JSON, errors
// always carry "error"):
//
//	200 {"published":N,"positions":[{"channel":"c","offset":42,"epoch":"e","duplicate":true}]}
//	                                              one position per event, in order;
//	                                              duplicate only for a repeated idempotency_key
//	400 {"error":"invalid event","events":[{"index":2,"error":"missing \"type\""}]}
//	400 {"error":"malformed JSON","index":i,"detail":"…"}
//	400 {"error":"no events"}                     empty body, [] or blank NDJSON
//	413 {"error":"body too large","limit":N}
//	400/503/500 {"error":"…","published":k}       Publish failed at event k;
//	                                              503 carries Retry-After: 1
//	504 {"error":"…","published":k,"outcome":"unknown"}
//	                                              event k was sent to the broker
//	                                              and no answer came: it may or
//	                                              may not be published; retry it
//	                                              with its idempotency key
//	401 {"error":"unauthorized"}                  TCP only, with WWW-Authenticate: Bearer
//	403 {"error":"forbidden: …"}                  Unix only, peer not allowed (see Security)
//	404 {"error":"not found"}
//	405 {"error":"method not allowed"}            with Allow
//
// GET /v1/channels, /v1/channels/{channel}/presence and the NDJSON stream
// GET /v1/events (connection events, resumable with ?after=&epoch=) are
// served when Options.Directory is set.
//
// Any other path goes to Options.Mount when it is set (the control plane's
// routes: disconnect, revoke, history, tap…), behind the same
// authentication as the routes above; 404 otherwise.
//
// Index is the event's 0-based position: array element, non-blank NDJSON
// line, or 0 for a single object. A Publish error maps to 504 when it has
// OutcomeUnknown() returning true (checked first), 400 when it has
// Invalid() returning true, 503 when it has Unavailable() returning true,
// and 500 otherwise.
//
// # The publish stream
//
// POST /v1/publish/stream is one long HTTP/1.1 request with a chunked
// NDJSON body, answered at once by a 200 whose chunked NDJSON body carries
// one ack per non-blank input line, in order, while the request body is
// still flowing (net/http's full-duplex mode). Each line is its own
// publish, with /v1/publish's validation, idempotency and positions:
//
//	{"index":0,"channel":"c","offset":42,"epoch":"e"}   ("duplicate":true for a repeated key)
//	{"index":1,"status":400,"error":"missing \"type\""}  (the stream goes on)
//
// The server reads what has arrived (up to 256 lines), publishes it with one
// PublishBatch and flushes the acks when no complete line is left to read.
// The server's read and write timeouts are lifted for the stream; it ends
// when the publisher ends its body or the server shuts down (NewHTTPServer
// tells the stream through its context). Client.Stream is the Go side.
//
// # The publish path, and why it has its own HTTP framing
//
// Issue 17 measured 45 µs of daemon CPU per single-event publish, ~70% in
// net/http and ~16% in encoding/json. Two changes, each decided from a
// measurement:
//
//   - The body is read whole into a pooled buffer and decoded without
//     reflection (decode_lean.go; anything unusual falls back to
//     encoding/json, so every error stays word for word), payloads are not
//     copied, the per-request state is pooled and the answer is written by
//     hand. BenchmarkPublishHandler runs the route in ~0.9 µs with 3
//     allocations (the event's own strings), where the decoder alone took
//     ~5 µs and 17 allocations. That brought a publish from ~25 to ~19 µs
//     (BENCHMARKS.md) and no further: a profile of BenchmarkPublishUnix put
//     the handler at ~12% of the server's CPU, the rest being net/http's
//     per-request machinery (a background read per request that parks and
//     is woken by a deadline, the Request and its header maps, the response
//     writer) and the system calls under it. No setting of http.Server
//     removes those.
//   - So the Unix socket has a fast path (fastpath.go): a plain POST
//     /v1/publish is framed by hand and run through the server's own
//     Handler with a Request and a writer reused for the connection's life,
//     one read and one write per request; anything else hands the
//     connection to net/http for good. Routing, the peer check, reloads and
//     every status and field stay the handler's. With it a publish costs
//     ~10–14 µs of daemon CPU, and BenchmarkPublishUnix went from ~55 to
//     ~17 µs per round trip (client included) and from 37 to 14
//     allocations. It is switched on by NewHTTPServer when Serve is given a
//     *UnixListener (in BaseContext), so callers change nothing; TCP stays
//     on net/http.
//
// Publishers that care about per-event cost have the stream: ~1.4 µs of
// daemon CPU per event and ~290,000 events/s from one Go publisher.
//
// # Security
//
// Whoever can connect to the Unix socket can publish. The first line of
// defence is the file system: ListenUnixWith gives the socket a mode
// (ListenUnixOptions.Mode, default 0600) and optionally a group
// (ListenUnixOptions.Group), so that mode 0660 with group "fanout" admits
// exactly the daemon's user and the members of that group; the socket's
// directory should restrict access further.
//
// The peer check is optional and comes on top of those permissions, never
// instead of them: with Options.PeerUIDs or Options.PeerGIDs set, NewHandler
// serves only connections whose peer, as the kernel reports it
// (SO_PEERCRED, read once per connection by PeerCredContext, which
// NewHTTPServer installs as ConnContext), has an allowed uid or an allowed
// primary gid; everyone else gets
//
//	403 {"error":"forbidden: peer uid N gid M not allowed"}
//
// and a warning is logged. It defends against processes that can reach the
// socket but should not publish: a socket mode or directory made too open
// by mistake, a group shared with other services, or a file descriptor
// passed to another process (the credentials are the connecting
// process's, fixed at connect). Supplementary groups are not seen: only the
// peer's effective uid and gid at connect time. When the credentials are
// missing from the request's context (a server without PeerCredContext, a
// non-Linux system) an allowlist refuses every request with 403: it fails
// closed.
//
// The TCP handler does not use the peer check: it always requires
// "Authorization: Bearer <key>", compared in constant time, and with no key
// configured it answers 404 to everything. Payloads and keys are never
// logged.
//
// # Concurrency
//
// Handlers hold no mutable state of their own: each request takes a
// publishState from the handler's pool (the body, read whole and bounded by
// the limit, the decoded batch and the answer; buffers over 64 KiB are not
// kept) and calls the Publisher from its request goroutine, so the
// Publisher must be safe for concurrent use. The fast path runs one
// goroutine per connection, like net/http; its only lock (fastPath.mu)
// guards the set of connections Close must wake. Events of one
// request are published sequentially, in order, with the request's context:
// a client that hangs up mid-batch may cancel the rest. Two requests are not
// ordered relative to each other. Client is safe for concurrent use.
// The package has no package-level state, so two daemons may run in one
// process.
//
// # Usage
//
// In the composition root:
//
//	ln, err := ipc.ListenUnixWith("/run/fanoutd/publish.sock",
//		ipc.ListenUnixOptions{Mode: 0o660, Group: "fanout"})
//	if err != nil { … } // ipc.ErrSocketInUse: another daemon is running
//	h := ipc.NewHandler(ipc.Options{Publisher: node, Logger: log, PeerGIDs: []int{fanoutGID}})
//	srv := ipc.NewHTTPServer(h, log) // ConnContext: PeerCredContext
//	go func() { errc <- srv.Serve(ln) }()
//	…
//	_ = srv.Shutdown(ctx) // closes ln, which removes the socket file if still ours
//
// In an application:
//
//	c := ipc.NewClient("/run/fanoutd/publish.sock")
//	defer c.Close()
//	err := c.Publish(ctx, "project:abc", "build.finished", map[string]any{"ok": true})
//
// Publishing continuously, on one stream (Send blocks while Window events
// await their ack; Close waits for all of them):
//
//	st, err := c.Stream(ctx, ipc.StreamOptions{Window: 4096})
//	…
//	_, err = st.Send(ctx, ipc.Event{Channel: "project:abc", Type: "tick", Payload: raw})
//	…
//	err = st.Close() // *ipc.StreamError when events were refused
package ipc
