package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/control"
)

// TestCtl drives `fanoutd ctl` end to end against a running daemon, with
// the socket path read from a configuration file.
func TestCtl(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "f.sock")
	cfg := filepath.Join(dir, "ctl.yaml")
	writeFile(t, cfg, "socket: "+sock+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	daemon := newRootCmd()
	out := &syncBuffer{}
	daemon.SetOut(out)
	daemon.SetArgs([]string{"--dev", "--listen", "127.0.0.1:0", "--socket", sock, "--log-level", "error"})
	done := make(chan error, 1)
	go func() { done <- daemon.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	wsURL, tok := waitBanner(t, out)
	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer tcancel()

	dial := func() (*websocket.Conn, map[string]any, error) {
		c, _, err := websocket.Dial(tctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}})
		if err != nil {
			return nil, nil, err
		}
		_, b, err := c.Read(tctx)
		var welcome map[string]any
		_ = json.Unmarshal(b, &welcome)
		return c, welcome, err
	}
	c, welcome, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	user := fmt.Sprint(welcome["user"])
	if err := c.Write(tctx, websocket.MessageText, []byte(`{"action":"subscribe","channel":"project:demo"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(tctx); err != nil {
		t.Fatal(err)
	}
	ctl := func(args ...string) string {
		t.Helper()
		s, err := run(tctx, append([]string{"ctl", "--config", cfg}, args...)...)
		if err != nil {
			t.Fatalf("ctl %v: %v\n%s", args, err, s)
		}
		return s
	}
	if _, err := run(tctx, "publish", "--socket", sock, "--channel", "project:demo", "--type", "story.status.changed",
		"--data", `{"status":"done"}`); err != nil {
		t.Fatal(err)
	}
	_, _, _ = c.Read(tctx) // the event

	for args, want := range map[string][]string{
		"connections":                    {"1 connection(s)", user, "project:demo", "127.0.0.1:"},
		"channels":                       {"CHANNEL", "project:demo"},
		"presence project:demo":          {user},
		"history project:demo --limit 5": {"story.status.changed", `{"status":"done"}`, "1 event(s); position offset 1"},
		"nodes":                          {"this daemon"},
	} {
		got := ctl(strings.Fields(args)...)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("ctl %s: no %q in\n%s", args, w, got)
			}
		}
	}
	var conns control.Connections
	if err := json.Unmarshal([]byte(ctl("--json", "connections")), &conns); err != nil || len(conns.Connections) != 1 {
		t.Fatalf("ctl --json connections: %v %v", conns, err)
	}
	if got := ctl("connections", "--local"); !strings.Contains(got, "1 connection(s)") || !strings.Contains(got, user) {
		t.Fatalf("ctl connections --local: %s", got)
	}

	// The tap sees the next publish.
	tapOut := &syncBuffer{}
	tapCtx, tapCancel := context.WithCancel(tctx)
	tapDone := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetOut(tapOut)
		cmd.SetArgs([]string{"ctl", "--config", cfg, "tap", "project:*"})
		tapDone <- cmd.ExecuteContext(tapCtx)
	}()
	cl := control.NewClient(sock)
	defer cl.Close()
	waitUntil(t, "the tap", func() bool {
		var n struct {
			Taps int `json:"taps"`
		}
		return cl.Call(tctx, http.MethodGet, "/v1/nodes", nil, &n) == nil && n.Taps == 1
	})
	if _, err := run(tctx, "publish", "--socket", sock, "--channel", "project:demo", "--type", "story.created"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the tapped event", func() bool { return strings.Contains(tapOut.String(), "project:demo #2 story.created") })
	tapCancel()
	<-tapDone

	// Disconnect, revoke, unrevoke.
	if got := ctl("disconnect", "--user", user, "--reason", "bye"); !strings.Contains(got, "disconnect: 1 connection(s) on 1 node(s)") {
		t.Fatalf("disconnect printed %s", got)
	}
	_, _, _ = c.Read(tctx) // story.created, published while tapping
	if _, _, err := c.Read(tctx); websocket.CloseStatus(err) != control.CloseDisconnected {
		t.Fatalf("after disconnect: %v", err)
	}
	ctl("revoke", "--user", user, "--for", "1h", "--reason", "banned")
	if _, _, err := dial(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("dial of a revoked user: %v, want 401", err)
	}
	if got := ctl("revocations"); !strings.Contains(got, user) {
		t.Fatalf("revocations: %s", got)
	}
	ctl("unrevoke", "--user", user)
	c2, _, err := dial()
	if err != nil {
		t.Fatalf("dial after unrevoke: %v", err)
	}
	_ = c2.CloseNow()
	if _, err := run(tctx, "ctl", "--config", cfg, "revoke", "--user", user); err == nil {
		t.Fatal("revoke without --for or --until succeeded")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
