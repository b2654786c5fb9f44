package systemd

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNotifierSendsStatesToTheSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	n := NewNotifier(func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return path
		}
		return ""
	})
	if !n.Enabled() {
		t.Fatal("notifier not enabled with NOTIFY_SOCKET set")
	}
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := n.Watchdog(); err != nil {
		t.Fatal(err)
	}
	n.monotonic = func() time.Duration { return 1234567 * time.Microsecond }
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	if err := n.ExtendTimeout(12 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.Stopping(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	for _, want := range []string{"READY=1", "WATCHDOG=1", "RELOADING=1\nMONOTONIC_USEC=1234567",
		"EXTEND_TIMEOUT_USEC=12000000", "STOPPING=1"} {
		_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := ln.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:k]); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestNotifierWithoutSocketIsANoOp(t *testing.T) {
	n := NewNotifier(func(string) string { return "" })
	if n.Enabled() || n.Ready() != nil || n.Stopping() != nil || n.Reloading() != nil || n.ExtendTimeout(time.Second) != nil {
		t.Fatal("a notifier without NOTIFY_SOCKET must do nothing")
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	cases := []struct {
		name string
		vars map[string]string
		want time.Duration
		bad  bool
	}{
		{"off", map[string]string{"NOTIFY_SOCKET": "/run/n"}, 0, false},
		{"on", map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "30000000"}, 30 * time.Second, false},
		{"for this process", map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "500000", "WATCHDOG_PID": me}, 500 * time.Millisecond, false},
		{"for another process", map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}, 0, false},
		{"no socket to ping", map[string]string{"WATCHDOG_USEC": "500000"}, 0, false},
		{"malformed usec", map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "30s"}, 0, true},
		{"zero usec", map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "0"}, 0, true},
		{"malformed pid", map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "x"}, 0, true},
	}
	for _, c := range cases {
		got, err := NewNotifier(env(c.vars)).WatchdogInterval()
		if got != c.want || errors.Is(err, ErrMalformedEnv) != c.bad {
			t.Errorf("%s: %v, %v; want %v (error: %v)", c.name, got, err, c.want, c.bad)
		}
	}
}

// TestMonotonicIsTheSystemClock: MONOTONIC_USEC must be on the clock
// systemd reads, which counts from boot: not zero, and moving forward.
func TestMonotonicIsTheSystemClock(t *testing.T) {
	a := monotonicNow()
	b := monotonicNow()
	if a <= 0 || b < a {
		t.Fatalf("monotonic %v then %v", a, b)
	}
}
