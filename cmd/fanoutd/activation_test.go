package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/ipc"
	"github.com/fanoutd/fanoutd/systemd"
)

// TestSocketActivationNotifyAndWatchdog runs fanoutd as systemd would:
// sockets passed by LISTEN_FDS, sd_notify and the watchdog. It checks the
// states in order (READY, WATCHDOG from the probe, RELOADING and READY
// around each reload, STOPPING last), that the passed sockets are the ones
// served, and that SIGHUP (ExecReload=) reloads the file, refuses a broken
// one with its reason, and leaves the daemon serving either way.
func TestSocketActivationNotifyAndWatchdog(t *testing.T) {
	m := newManager(t)
	p := m.start(200 * time.Millisecond)
	if before := m.expect("READY=1"); len(before) != 0 {
		t.Fatalf("before READY: %q", before)
	}
	m.expect("WATCHDOG=1")

	sub := m.subscribe("project:a", nil)
	pub := ipc.NewClient(m.socket())
	defer pub.Close()
	publish(t, pub, "project:a", "first.event")
	sub.expect(`"type":"first.event"`)

	good, err := os.ReadFile(m.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, m.config, strings.Replace(string(good), "log_level: info", "log_level: warn", 1))
	p.signal(syscall.SIGHUP)
	m.expect("RELOADING=1\nMONOTONIC_USEC=*")
	m.expect("READY=1")
	waitOutput(t, p, `"applied":["log_level"]`)
	publish(t, pub, "project:a", "after.hangup")
	sub.expect(`"type":"after.hangup"`)

	writeFile(t, m.config, string(good)+"limits:\n  max_subscriptions: 0\n")
	p.signal(syscall.SIGHUP)
	m.expect("RELOADING=1\nMONOTONIC_USEC=*")
	m.expect("READY=1")
	waitOutput(t, p, "limits.max_subscriptions: must be > 0 (got 0)")
	publish(t, pub, "project:a", "after.refused")
	sub.expect(`"type":"after.refused"`)

	sub.hangUp()
	p.signal(syscall.SIGTERM)
	for _, s := range m.expect("STOPPING=1") {
		if s != "WATCHDOG=1" {
			t.Errorf("between the last READY and STOPPING: %q", s)
		}
	}
	if out := p.out.String(); strings.Contains(out, "is not used") {
		t.Errorf("the passed sockets match the configuration, yet:\n%s", out)
	}
}

// TestRestartKeepsListeningSockets: while no fanoutd runs, the sockets
// stay with the manager, so a client connecting then is not refused, and
// is served as soon as the next process starts.
func TestRestartKeepsListeningSockets(t *testing.T) {
	m := newManager(t)
	first := m.start(0)
	m.expect("READY=1")
	m.subscribe("project:r", nil).hangUp()
	first.signal(syscall.SIGTERM)
	m.expect("STOPPING=1")

	// No daemon now.
	wsConn, err := net.Dial("tcp", m.wsAddr())
	if err != nil {
		t.Fatalf("WebSocket connection refused between two processes: %v", err)
	}
	pubConn, err := net.Dial("unix", m.socket())
	if err != nil {
		t.Fatalf("publish connection refused between two processes: %v", err)
	}

	second := m.start(0)
	sub := m.subscribe("project:r", onceDialer(wsConn))
	hc := preDialedClient(onceDialer(pubConn))
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://fanoutd/v1/publish", "application/json",
		strings.NewReader(`{"channel":"project:r","type":"after.restart"}`))
	if err != nil {
		t.Fatalf("publish on the connection made between two processes: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("publish: HTTP %d", resp.StatusCode)
	}
	sub.expect(`"type":"after.restart"`)
	m.expect("READY=1")
	sub.hangUp()
	second.signal(syscall.SIGTERM)
}

func publish(t *testing.T, c *ipc.Client, channel, typ string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Publish(ctx, channel, typ, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func waitOutput(t *testing.T, p *process, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", want, p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onceDialer hands out conn, already connected, to the first dial.
func onceDialer(conn net.Conn) func(context.Context, string, string) (net.Conn, error) {
	var used bool
	return func(context.Context, string, string) (net.Conn, error) {
		if used {
			return nil, errors.New("the one connection is used")
		}
		used = true
		return conn, nil
	}
}

func preDialedClient(dial func(context.Context, string, string) (net.Conn, error)) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: dial}, Timeout: 30 * time.Second}
}

// fakeListener is a listener of a kind fanoutd has no role for.
type fakeListener struct{ net.Listener }

func (fakeListener) Addr() net.Addr { return &net.UDPAddr{} }
func (fakeListener) Close() error   { return nil }

func TestSortActivated(t *testing.T) {
	dir := t.TempDir()
	var n int
	listen := func(network string) func() net.Listener {
		return func() net.Listener {
			n++
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(dir, strconv.Itoa(n))
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ln.Close() })
			return ln
		}
	}
	tcp, unix := listen("tcp"), listen("unix")
	cases := []struct {
		name          string
		lns           []systemd.Listener
		wantWS, wantP bool
		err           string
	}{
		{"by name", []systemd.Listener{{Name: "publish", Listener: tcp()}, {Name: "websocket", Listener: tcp()}}, true, true, ""},
		{"one unit's name, by kind", []systemd.Listener{{Name: "fanoutd.socket", Listener: tcp()}, {Name: "fanoutd.socket", Listener: unix()}}, true, true, ""},
		{"only the WebSocket", []systemd.Listener{{Name: "fanoutd.socket", Listener: tcp()}}, true, false, ""},
		{"two WebSocket listeners", []systemd.Listener{{Name: "a", Listener: tcp()}, {Name: "b", Listener: tcp()}}, false, false, "more than one websocket"},
		{"an unknown kind", []systemd.Listener{{Name: "x", Listener: fakeListener{}}}, false, false, "neither TCP nor Unix"},
	}
	for _, c := range cases {
		ws, pub, err := sortActivated(c.lns)
		if c.err != "" {
			if !errors.Is(err, errActivation) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || (ws != nil) != c.wantWS || (pub != nil) != c.wantP {
			t.Errorf("%s: ws %v, publish %v, %v", c.name, ws, pub, err)
		}
		if c.name == "by name" && (ws != c.lns[1].Listener || pub != c.lns[0].Listener) {
			t.Errorf("%s: names not followed", c.name)
		}
	}
}
