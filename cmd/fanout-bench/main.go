// Command fanout-bench is fanoutd's load generator: it holds many
// subscribed WebSockets open against a running daemon (spread over worker
// processes and source addresses, all on this machine), publishes at a
// fixed rate over the daemon's Unix socket, and reports lost deliveries,
// latency percentiles and the daemon's memory per connection and CPU per
// delivery. The logic lives in internal/loadgen.
//
//	FANOUTD_AUTH_HMAC_SECRET=… fanout-bench --conns 10000 --channels 10000 --rate 1000 --duration 10s
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
