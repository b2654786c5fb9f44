package systemd

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fakeDaemon is what the watchdog watches: a probe whose health the test
// sets, and a count of the pings it let through.
type fakeDaemon struct {
	state atomic.Int32 // one of healthy, broken, hung
	pings atomic.Int32
	// deadline is set by a hung probe when its context ended by deadline.
	deadline atomic.Bool
}

const (
	healthy = iota
	broken
	hung
)

func (d *fakeDaemon) probe(ctx context.Context) error {
	switch d.state.Load() {
	case broken:
		return errors.New("hub does not deliver")
	case hung:
		<-ctx.Done()
		d.deadline.Store(errors.Is(ctx.Err(), context.DeadlineExceeded))
		return ctx.Err()
	}
	return nil
}

func (d *fakeDaemon) ping() error { d.pings.Add(1); return nil }

func TestWatchdogPingsOnlyAfterAPassingProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		d := &fakeDaemon{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		const every = 10 * time.Second
		go func() {
			done <- RunWatchdog(ctx, WatchdogOptions{Interval: every, Probe: d.probe, Ping: d.ping, Logger: zap.New(core)})
		}()
		// Offset from the ticks, so no step lands on one.
		time.Sleep(every / 10)
		steps := []struct {
			name      string
			state     int32
			wantPings int32
		}{
			{"first probe at once", healthy, 1},
			{"one tick later", healthy, 2},
			{"probe fails", broken, 2},
			{"probe still fails", broken, 2},
			{"probe hangs", hung, 2},
			{"probe passes again", healthy, 3},
		}
		for i, s := range steps {
			if i > 0 {
				d.state.Store(s.state)
				time.Sleep(every)
			}
			synctest.Wait()
			if got := d.pings.Load(); got != s.wantPings {
				t.Fatalf("%s: %d pings, want %d", s.name, got, s.wantPings)
			}
		}
		if !d.deadline.Load() {
			t.Error("a hung probe's context did not end by its deadline")
		}
		if n := logs.FilterMessage("watchdog probe failed; not notifying the service manager").Len(); n != 3 {
			t.Errorf("%d failure logs, want 3 (two failures, one hang)", n)
		}
		if n := logs.FilterMessage("watchdog probe passes again").Len(); n != 1 {
			t.Errorf("%d recovery logs, want 1", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestWatchdogStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDaemon{}
		d.state.Store(hung)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- RunWatchdog(ctx, WatchdogOptions{Interval: time.Minute, Probe: d.probe, Ping: d.ping})
		}()
		synctest.Wait()
		cancel() // while a probe hangs
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d.pings.Load() != 0 {
			t.Fatal("pinged although no probe passed")
		}
	})
}

func TestWatchdogRejectsIncompleteOptions(t *testing.T) {
	d := &fakeDaemon{}
	for name, o := range map[string]WatchdogOptions{
		"no interval": {Probe: d.probe, Ping: d.ping},
		"no probe":    {Interval: time.Second, Ping: d.ping},
		"no ping":     {Interval: time.Second, Probe: d.probe},
	} {
		if err := RunWatchdog(t.Context(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: %v, want ErrInvalidOptions", name, err)
		}
	}
}
