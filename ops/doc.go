// Package ops is fanoutd's operations surface: what an operator and a
// monitoring system look at, as opposed to what clients use.
//
//   - Console: the admin console at GET / when status.enabled, a read-only
//     live view (cards, charts with axes over a server-side window,
//     connections and channels tables, close codes and refusals, broker
//     state and probe latency, the configuration without secrets), plus
//     GET /status/history.json and GET /status/tables.json, all behind a
//     Host check against DNS rebinding (421 otherwise).
//   - PublishStatus: once a second, the counters are sampled into the
//     window (a ring: 15 minutes at 1 s by default) and published on the
//     reserved channel StatusChannel, which the console's script reads over
//     the daemon's own WebSocket with a token minted for that channel only.
//   - Metrics: the daemon's own Prometheus registry (never the default
//     one), read from counters the core and the transport keep anyway.
//   - Healthz and Readyz: liveness, and readiness with ReadinessChecks.
//   - ProbeHub: the watchdog's and the broker watch's end-to-end probe
//     through the hub; its duration is shown and exported.
//
// # Concurrency
//
// Ops is safe for concurrent use: handlers run on their requests'
// goroutines, PublishStatus on one goroutine of its own (the root's Run),
// ProbeHub on its caller's. Source's methods and Options.Settings are
// called from all of them and must not block. The window's lock (ring.mu)
// is the only lock here; it is held to copy a sample, never while calling
// out. Nothing runs while nobody asks: no goroutine but PublishStatus,
// which the root starts only when the console is served.
//
// # Imports
//
// ops imports daemon (the Node: stats, the connection and channel lists,
// the probe's session and the reserved publish) and netpoll (the
// transport's Stats and Latency types). It never imports config or
// jwtauth: the configuration in force comes as Settings (the root builds
// the summary without secrets), the console's token from
// Options.MintStatusToken. The root's Server implements Source; neither
// daemon nor netpoll imports ops.
//
// # Usage
//
//	o := ops.New(ops.Options{Node: node, Source: src, Version: "1.2.0",
//		Settings: func() ops.Settings { return ops.Settings{Listen: ":8080", Bound: ln.Addr(), WSPath: "/ws"} },
//		MintStatusToken: mint, Readiness: checks})
//	mux.Handle("GET /metrics", o.Metrics())
//	mux.HandleFunc("GET /healthz", o.Healthz)
//	mux.HandleFunc("GET /readyz", o.Readyz)
//	c := o.Console()
//	mux.Handle("GET /{$}", c)
//	mux.Handle("GET /status/", c)
//	go o.PublishStatus(ctx)
//	err := o.ProbeHub(ctx) // from the watchdog
package ops
