// Package fanoutd runs a whole fanoutd daemon: the epoll WebSocket transport
// (netpoll), the core (daemon), token verification (daemon/jwtauth) and the
// local publish API (ipc), wired from one config.Config. The fanoutd binary
// is built on it, and a Go program can embed the daemon with it: every
// Server owns its listeners, logger and counters, so two can run in one
// process.
//
//	srv, err := fanoutd.New(fanoutd.Options{Config: cfg, Logger: log})
//	go srv.Run(ctx)             // serves until ctx ends, then shuts down
//	pos, err := srv.Publish(ctx, fanoutd.Event{Channel: "project:abc", Type: "story.status.changed", Payload: payload})
//
// examples/embed is a runnable program built this way. A configuration may
// also turn on the conformance echo route (config.Conformance), served by
// the same transport for WebSocket conformance suites.
//
// # The SSE route
//
// Requests on the TCP listener that are not WebSocket upgrades are handed
// from the transport to net/http (netpoll.Server.HTTPListener), which serves
// the SSE route (config.SSE) and, with api.key, the publish API. An SSE
// stream is admitted by the upgrader's checks (upgrader.admit), is a
// daemon.Session whose Transport is an sseStream over the
// http.ResponseWriter, and subscribes its URL's channels with
// Session.Subscribe. Its handler goroutine writes what the core queues
// (a netpoll.FrameQueue under the stream's lock, so that the core's calls
// never block) and heartbeats, and calls the session's Closed when the
// stream ends; Shutdown ends every stream with 1001 before the TCP server's
// own shutdown waits for the handlers.
package fanoutd
