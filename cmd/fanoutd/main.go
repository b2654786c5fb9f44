// Command fanoutd is the real-time fan-out daemon: browsers hold WebSockets
// to it, local applications publish to it over a Unix socket or HTTP.
//
//	fanoutd --dev                   run with a random secret and print a dev token
//	fanoutd --config /etc/fanoutd/fanoutd.yaml
//	fanoutd publish --channel project:abc --type story.status.changed --data '{"status":"done"}'
//	fanoutd check-config --config fanoutd.yaml
//	fanoutd token --sub alice --channels 'project:*'
//	fanoutd version
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fanoutd:", err)
		os.Exit(1)
	}
}
