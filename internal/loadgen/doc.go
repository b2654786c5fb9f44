// Package loadgen is fanout-bench's engine: it opens many WebSocket
// subscribers against a running fanoutd, publishes at a fixed rate over the
// daemon's Unix-socket API, and measures what the daemon costs per
// connection and per delivery, and how late and how completely events
// arrive.
//
// # Processes
//
// One process may hold at most ~19.9k sockets (a hard 20,000 open-file
// limit on the build machines), so the connections are spread over worker
// processes. The parent (Run) re-executes its own binary once per worker
// (a Launcher decides how) and talks to each over a line protocol: one JSON
// Spec line on the worker's stdin, then "stop"; the worker answers with JSON
// lines on stdout: "progress" while it works, "ready" once every connection
// of its share is subscribed (or failed), and "final" with its counters and
// latency histogram just before it exits. The parent publishes only after
// every worker is ready, so every published event has a known set of
// subscribers, which is what makes "expected deliveries" exact.
//
// # Worker concurrency
//
// A worker runs one goroutine per connection with a small bufio.Reader
// (1 KiB for the default 200-byte payload). Measured: 9.6-11 KiB of RSS per
// connection, runtime included, so ~200 MB for a full 18k-connection
// worker; acceptable for a load generator, and much simpler than an epoll
// client. The report shows the figure of every run (generator.worker_rss_*). After subscribing, a
// connection's goroutine is its only reader and only writer (it answers
// server pings with masked pongs), so frames never interleave. Counters
// and the latency histogram are shared atomics; nothing on the receive path
// takes a lock or decodes JSON: "ts" and "seq" are found with bytes.Index.
//
// # Latency
//
// The publisher stamps each event's payload with time.Now().UnixNano() just
// before sending; a subscriber subtracts it from its own time.Now() on
// receipt. Both run on the same machine, so the clocks agree.
//
// # Protocols
//
// Config.Protocol picks what the connections and the publisher speak.
// "fanoutd" (the default; the Node hub of bench/nodehub speaks it too):
// the token in the upgrade's Authorization header, one
// {"action":"subscribe"} per connection, publishing over the daemon's Unix
// socket (Config.Socket), the daemon's pid and delivered count from its
// /v1/stats. "centrifugo" (flags --protocol centrifugo --api-url --api-key
// --pid): Centrifugo's JSON client protocol on its /connection/websocket:
// {"id":1,"connect":{"token":…}} and {"id":2,"subscribe":{"channel":…}},
// each awaited by its id; publications arrive as
// {"push":{"channel":…,"pub":{"data":<the bench payload>}}}, possibly
// several per frame, one per line; the server's ping, an empty object {},
// is answered with {}. The token carries only sub, iat and exp (a
// "channels" claim would mean server-side subscriptions). Events go to
// Centrifugo's server HTTP API over TCP (Config.APIURL, X-API-Key
// Config.APIKey): /api/publish for --batch 1, /api/batch above. Centrifugo
// has no stats the generator reads, so its pid comes from Config.PID and
// "delivered" is the workers' own count.
//
// # Connect-time subscriptions
//
// Config.SubscribeInURL (--subscribe-in-url) subscribes every connection
// as it connects instead of with a command after the welcome. fanoutd and
// the Node hub get the channel in the upgrade URL, ?channels=bench:N (the
// SSE route's syntax), and answer the upgrade with the welcome and a
// {"type":"subscribed","channel":…} frame per channel; an
// {"type":"unsubscribed",…,"code":…} frame is a refusal, counted as a
// failed connection with its reason. Centrifugo gets the channel in the
// connect command's "subs" ({"connect":{"token":…,"subs":{"bench:N":{}}}})
// and answers in the connect reply's "subs"; a channel left out of them is
// the refusal. The report says "subscribe_in_url": true.
//
// # Usage
//
//	cfg := loadgen.DefaultConfig()
//	cfg.Conns, cfg.Secret = 2000, secret
//	rep, err := loadgen.Run(ctx, cfg, loadgen.Options{
//		Launcher: loadgen.ExecLauncher{Command: func(int) *exec.Cmd { return exec.Command(self, "--worker") }},
//		Progress: os.Stderr,
//	})
//	rep.WriteTable(os.Stdout)
//
// and, in the worker process, loadgen.RunWorker(ctx, os.Stdin, os.Stdout).
package loadgen
