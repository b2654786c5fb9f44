// Package daemontest runs a real fanoutd in a test's process: the load
// generator's tests drive it like a deployed daemon. (The root package's own
// tests have their own helper: they cannot import a package that imports
// the root.)
package daemontest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
)

// Daemon is a running fanoutd on a loopback port and a Unix socket in the
// test's temporary directory.
type Daemon struct {
	URL    string // ws://127.0.0.1:PORT/ws
	Socket string
	Srv    *fanoutd.Server
	stop   func()
}

// Start runs a daemon with secret as its HMAC key, after applying mutate to
// the default configuration. It is stopped at cleanup, or earlier by Stop.
func Start(t testing.TB, secret string, mutate ...func(*config.Config)) *Daemon {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Socket = filepath.Join(t.TempDir(), "fanoutd.sock")
	cfg.Auth.HMACSecret = secret
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := fanoutd.New(fanoutd.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &Daemon{URL: "ws://" + srv.Addr().String() + cfg.WSPath, Socket: cfg.Socket, Srv: srv, stop: stop}
}

// Stop shuts the daemon down now; cleanup will not do it again.
func (d *Daemon) Stop() { d.stop() }
