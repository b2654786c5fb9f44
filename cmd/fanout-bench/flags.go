package main

import (
	"fmt"
	"io"

	"github.com/fanoutd/fanoutd/internal/loadgen"
	"github.com/spf13/pflag"
)

// workerFlag switches the binary into a worker process; the parent passes
// it when it re-executes itself, so it is hidden from --help.
const workerFlag = "worker"

// secretEnv is the daemon's own variable for its HMAC secret, so one
// export serves both the daemon and the generator.
const secretEnv = "FANOUTD_AUTH_HMAC_SECRET"

type flags struct {
	cfg    loadgen.Config
	json   bool
	worker bool
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (flags, error) {
	f := flags{cfg: loadgen.DefaultConfig()}
	c := &f.cfg
	fs := pflag.NewFlagSet("fanout-bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fanout-bench [flags]   (HMAC secret from --secret or $"+secretEnv+")")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.URL, "url", c.URL, "daemon WebSocket URL; loopback (127.0.0.0/8) only")
	fs.StringVar(&c.Socket, "socket", c.Socket, "daemon publish API Unix socket")
	fs.StringVar(&c.Secret, "secret", "", "HS256 secret to mint the token (default $"+secretEnv+"); dev mode's random secret cannot be used: pass its dev token with --token")
	fs.StringVar(&c.Token, "token", "", "ready JWT allowing channels bench:* (instead of --secret; for --protocol centrifugo, a connection JWT with sub and exp)")
	fs.IntVar(&c.Conns, "conns", c.Conns, "subscriber connections")
	fs.IntVar(&c.Channels, "channels", c.Channels, "channels bench:0..M-1; connections and events spread round-robin")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "events per second, all channels together")
	fs.IntVar(&c.Batch, "batch", c.Batch, "events per publish request (1: single-event requests)")
	fs.IntVar(&c.Payload, "payload", c.Payload, "bytes of each event's payload JSON")
	fs.StringVar(&c.PayloadStyle, "payload-style", c.PayloadStyle, "payload filling: pad (a string of x) or json (dashboard-like records; use it for compression figures)")
	fs.BoolVar(&c.Deflate, "deflate", false, "offer permessage-deflate as Chromium does and inflate compressed events")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "publishing time (max 10m)")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "wait after the last publish for stragglers")
	fs.Float64Var(&c.ConnectRate, "connect-rate", c.ConnectRate, "new connections per second (0: as fast as possible)")
	fs.IntVar(&c.ConnectConcurrency, "connect-concurrency", c.ConnectConcurrency, "handshakes in flight, all workers together")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "bound on the connection phase")
	fs.IntVar(&c.Procs, "procs", 0, fmt.Sprintf("worker processes (default ceil(conns/%d))", loadgen.ConnsPerProc))
	fs.IntVar(&c.SourceIPs, "source-ips", 0, fmt.Sprintf("source addresses from 127.0.0.2 (default ceil(conns/%d))", loadgen.ConnsPerSourceIP))
	fs.IntVar(&c.PID, "pid", 0, "daemon pid for /proc metrics (default: \"pid\" from /v1/stats; required for --protocol centrifugo, which has no stats)")
	fs.StringVar(&c.Protocol, "protocol", c.Protocol, "server protocol: fanoutd (also the Node hub) or centrifugo (JSON client protocol on --url, e.g. ws://127.0.0.1:8000/connection/websocket; publishing via --api-url)")
	fs.StringVar(&c.APIURL, "api-url", "", "Centrifugo server HTTP API base, http://127.x.y.z:port (--protocol centrifugo; --socket is then unused)")
	fs.StringVar(&c.APIKey, "api-key", "", "Centrifugo http_api.key, sent as X-API-Key (--protocol centrifugo)")
	fs.BoolVar(&c.SubscribeInURL, "subscribe-in-url", false, "subscribe at connect time: channels in the upgrade URL (?channels=bench:N), no subscribe command; "+
		"with --protocol centrifugo, in the connect command's subs")
	fs.StringVar(&c.Label, "label", "", "free text copied into the report")
	fs.BoolVar(&f.json, "json", false, "print the JSON report on stdout (the table goes to stderr)")
	fs.BoolVar(&f.worker, workerFlag, false, "run as a worker process (internal)")
	_ = fs.MarkHidden(workerFlag)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Secret == "" {
		c.Secret = getenv(secretEnv)
	}
	return f, nil
}
