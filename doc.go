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
package fanoutd
