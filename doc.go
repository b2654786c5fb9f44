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
// the SSE route (config.SSE; package sse) and, with api.key, the publish
// API. The root only wires the route: sse.New in New, its path in
// routes.go, its Shutdown in drain (every stream ends with the drain's
// close code before the TCP server's own shutdown waits for the
// handlers), its Streams in Stats. A stream is admitted by the upgrader's
// checks (upgrader.admit, behind sse.Admitter: handshake_sse.go), so a
// user's WebSockets and streams share one per-user limit.
//
// # Operations
//
// Reload (Server.Reload, ReloadFromSource; SIGHUP and POST /v1/reload in
// the binary) applies a new configuration without dropping anyone: each
// live part (the token verifier, the upgrade checks, the connection caps,
// the core's daemon.Settings, the transport's netpoll.Limits, the HTTP
// routes) is rebuilt whole and swapped in behind an atomic pointer, so
// the hot paths take no lock and never see a part half rebuilt (for the
// instant of the swaps, one request may see one part old and another
// new); keys that need a restart are reported (reload.go). Shutdown drains (drain.go): the
// listeners close, accepted publishes finish, then the clients are closed
// over drain.window with a reconnect hint. The operations surface is
// package ops (its own Prometheus registry per Server, /healthz, /readyz,
// the admin console, the hub probe), wired in operations.go, where the
// Server is its Source; its routes sit on the TCP listener's HTTP
// hand-off (routes.go). Reloads are serialised by one mutex, which nothing
// on a client's or a publish's path ever takes.
//
// # Hand-offs: restarts and upgrades that keep every client
//
// Package handoff moves descriptors and an image between processes (a
// socket pair for an upgrade, the service manager's descriptor store for a
// restart); netpoll freezes, exports and adopts connections; the core
// (daemon) freezes, exports and resumes sessions and channels. The root
// orders them, because only it holds every part: handover.go is the old
// process's side (the publish API paused with its backlog, the core and
// the transport frozen, the image made, sent, committed, or everything
// resumed on failure), takeover.go the new process's (the image read, the
// state restored, each descriptor matched to its connection and adopted
// with its session and limits), upgrade.go the two routes (Upgrade's
// child process; the store on SIGTERM, when Options.FDStore can hold
// everyone). Run returns without draining once a hand-off committed.
package fanoutd
