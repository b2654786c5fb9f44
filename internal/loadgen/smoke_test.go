package loadgen

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

// TestSmokeAgainstRealDaemon runs the generator as it runs for real: two
// worker processes on two source addresses against an in-process fanoutd
// that pings every second (so the workers must answer with pongs), and
// checks that the bookkeeping closes: every expected delivery arrived, the
// daemon's own delivered counter agrees, and nothing disconnected.
func TestSmokeAgainstRealDaemon(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Heartbeat.Interval, c.Heartbeat.Timeout = time.Second, 2*time.Second
	})
	cfg := d.config(300, 2, 10, 500, 3*time.Second)
	// Batches of 5: under -race, with the daemon in this process, one
	// publish request takes 2-3 ms, so single events could not reach 500/s.
	cfg.SourceIPs, cfg.Batch, cfg.Label = 2, 5, "smoke"
	rep, err := Run(context.Background(), cfg, Options{Launcher: execLauncher(), Progress: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	switch {
	case rep.Connected != 300 || rep.ConnectFailures != 0:
		t.Errorf("connected %d, failed %d", rep.Connected, rep.ConnectFailures)
	// The publish rate a loaded 2-core machine reaches is not asserted;
	// that every accepted event reached every subscriber is.
	case rep.Published == 0 || rep.Accepted != rep.Published:
		t.Errorf("published %d, accepted %d", rep.Published, rep.Accepted)
	case rep.Expected != rep.Published*30 || rep.Received != rep.Expected || rep.Lost != 0:
		t.Errorf("expected %d, received %d, lost %d", rep.Expected, rep.Received, rep.Lost)
	case rep.Daemon.Delivered != rep.Received:
		t.Errorf("daemon delivered %d, generator received %d", rep.Daemon.Delivered, rep.Received)
	case rep.Disconnects != 0 || rep.OutOfOrder != 0:
		t.Errorf("disconnects %d %v, out of order %d", rep.Disconnects, rep.DisconnectReasons, rep.OutOfOrder)
	case rep.Latency.P99 <= 0 || rep.Latency.Max < rep.Latency.P99:
		t.Errorf("latency %+v", rep.Latency)
	case rep.Generator.Pongs < 300:
		t.Errorf("%d pongs: the 1 s server pings were not answered", rep.Generator.Pongs)
	case rep.Daemon.RSSAfterConnectBytes == 0 || rep.Daemon.RSSEndBytes == 0 || rep.Daemon.Threads == 0 || rep.Daemon.CPUSeconds <= 0:
		t.Errorf("daemon metrics %+v", rep.Daemon)
	case rep.GeneratorCPUSeconds <= 0 || rep.Generator.WorkerRSSBytes == 0:
		t.Errorf("generator metrics %v %+v", rep.GeneratorCPUSeconds, rep.Generator)
	case len(rep.Errors) != 0 || rep.Interrupted:
		t.Errorf("errors %v, interrupted %v", rep.Errors, rep.Interrupted)
	}
}

// TestRunInProcess runs parent and workers in one process, so -race and
// goleak cover both sides of the line protocol. Batches and personal
// channels exercise the other publishing shape.
func TestRunInProcess(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(60, 3, 60, 300, time.Second)
	cfg.Batch, cfg.ConnectRate = 7, 600
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}, Progress: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if rep.Published == 0 || rep.Received != rep.Published || rep.Expected != rep.Published || rep.Lost != 0 ||
		rep.ConnectFailures != 0 || rep.Disconnects != 0 || rep.OutOfOrder != 0 {
		t.Fatalf("not clean: %+v", rep)
	}
	// 60 connections at 600/s cannot take less than ~0.1 s.
	if rep.ConnectSeconds < 0.08 {
		t.Errorf("connect-rate ignored: %d conns in %.3fs", rep.Connected, rep.ConnectSeconds)
	}
}

// TestRunSubscribeInURL: against the real daemon, connections that name
// their channel in the upgrade URL (no subscribe command) get every event.
func TestRunSubscribeInURL(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(40, 2, 4, 100, time.Second)
	cfg.SubscribeInURL = true
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}, Progress: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if !rep.SubscribeInURL || rep.Connected != 40 || rep.ConnectFailures != 0 || rep.Published == 0 ||
		rep.Expected != rep.Published*10 || rep.Received != rep.Expected || rep.Lost != 0 || rep.Disconnects != 0 {
		t.Fatalf("not clean: %+v", rep)
	}
}

// TestRunDeflate: subscribers that offer permessage-deflate get the
// events compressed (json payloads over the daemon's 512-byte threshold),
// inflate them, and every one is counted.
func TestRunDeflate(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(20, 2, 2, 50, time.Second)
	cfg.Deflate, cfg.PayloadStyle, cfg.Payload = true, "json", 1000
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}, Progress: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	// Not rep.OK(): on a loaded machine the publisher may fall behind its
	// 50 events a second, which says nothing about compression.
	clean := rep.ConnectFailures == 0 && rep.Lost == 0 && rep.Disconnects == 0 && rep.OutOfOrder == 0 &&
		rep.Published > 0 && rep.Accepted == rep.Published && len(rep.Errors) == 0
	if !clean || rep.Daemon.DeflateConns != 20 || rep.Daemon.CompressedEvents == 0 {
		t.Fatalf("not clean or not compressed: %+v", rep)
	}
	if rep.Daemon.BytesOutPerDelivery >= 1000 {
		t.Errorf("%.0f bytes per delivery of a 1000-byte payload: not compressed", rep.Daemon.BytesOutPerDelivery)
	}
}

// TestRefusedConnectionsAreNotExpected lets the daemon refuse 10 of 50
// connections (503): they are reported as connect failures, and the
// expected deliveries count only the 40 subscribers, so nothing is "lost".
func TestRefusedConnectionsAreNotExpected(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) { c.Limits.MaxConnections = 40 })
	cfg := d.config(50, 2, 5, 100, time.Second)
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if rep.Connected != 40 || rep.ConnectFailures != 10 || rep.ConnectErrors["websocket upgrade refused: HTTP 503"] != 10 {
		t.Fatalf("connected %d, failed %d: %v", rep.Connected, rep.ConnectFailures, rep.ConnectErrors)
	}
	if rep.Published == 0 || rep.Expected != rep.Published*40/5 || rep.Lost != 0 { // 8 subscribers per channel
		t.Fatalf("expected %d, received %d, lost %d", rep.Expected, rep.Received, rep.Lost)
	}
	if rep.OK() {
		t.Fatal("a run with connect failures must not be OK")
	}
}

func TestForbiddenTokenFailsEveryConnection(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(20, 1, 1, 100, time.Second)
	tok, err := jwtauth.Mint([]byte(testSecret), "x", []string{"other:*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Token, cfg.Secret = tok, ""
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}})
	if err == nil || rep == nil || rep.ConnectFailures != 20 {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	for reason := range rep.ConnectErrors {
		if !strings.Contains(reason, "forbidden") {
			t.Errorf("reason %q does not say forbidden", reason)
		}
	}
}

// TestDisconnectsAreCounted stops the daemon mid-run: every connection
// ends with close code 1001, counted as a disconnect with its reason.
func TestDisconnectsAreCounted(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(30, 1, 3, 100, 2*time.Second)
	cfg.Drain = 0
	go func() {
		time.Sleep(time.Second)
		d.Stop()
	}()
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	if rep.Disconnects != 30 || rep.DisconnectReasons["close 1001: EOF"] != 30 {
		t.Fatalf("disconnects %d: %v", rep.Disconnects, rep.DisconnectReasons)
	}
	if rep.OK() || rep.PublishErrors == nil {
		t.Fatal("publishing to a stopped daemon must fail and the run must not be OK")
	}
}

// TestInterruptReportsPartialResults cancels the run while it publishes,
// as Ctrl-C does: Run still returns a report, marked interrupted.
func TestInterruptReportsPartialResults(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(20, 2, 2, 100, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(1500 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	rep, err := Run(ctx, cfg, Options{Launcher: pipeLauncher{}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Published == 0 || rep.Published > 200 || time.Since(start) > 10*time.Second {
		t.Fatalf("interrupted %v, published %d, after %v", rep.Interrupted, rep.Published, time.Since(start))
	}
}

func TestRunRefusesBadConfigAndMissingDaemon(t *testing.T) {
	c := DefaultConfig()
	c.URL, c.Secret = "ws://10.1.2.3:8080/ws", testSecret
	if _, err := Run(context.Background(), c, Options{Launcher: pipeLauncher{}}); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("remote target: %v", err)
	}
	c.URL, c.Socket = "ws://127.0.0.1:1/ws", t.TempDir()+"/none.sock"
	if _, err := Run(context.Background(), c, Options{Launcher: pipeLauncher{}}); !errors.Is(err, ErrPublishAPI) {
		t.Fatalf("no daemon: %v", err)
	}
}

func logReport(t *testing.T, rep *Report) {
	t.Helper()
	var b strings.Builder
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
}

// TestWindowShorterThanATickStillReports: a publish window shorter than
// the progress interval still ends with a "publish" line carrying its
// counts (before, the line came only from the ticker, so a 1 s window
// with 1 s progress printed none about half the time).
func TestWindowShorterThanATickStillReports(t *testing.T) {
	d := startDaemon(t)
	cfg := d.config(10, 1, 10, 100, 200*time.Millisecond)
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}, Progress: w, ProgressEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(out.String(), "publish ") || rep.Published == 0 {
		t.Fatalf("no publish line after a 200 ms window (published %d):\n%s", rep.Published, out.String())
	}
}

// writerFunc is an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
