package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/handoff"
	"go.uber.org/goleak"
)

// TestMain runs the tests, or, when a test re-executes this binary with
// childEnv set, the fanoutd command itself (see startProcess).
func TestMain(m *testing.M) {
	if os.Getenv(fleetEnv) != "" {
		runFleetProcess()
	}
	if os.Getenv(childEnv) != "" {
		failUpgradeChild()
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// run executes the CLI with args and returns its output and error.
func run(ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, good, "auth:\n  hmac_secret: \"0123456789abcdef0123456789abcdef\"\n")
	writeFile(t, bad, "listen: nowhere\nheartbeat:\n  timeout: 0s\nlimits:\n  max_subscription: 5\n")
	out, err := run(context.Background(), "check-config", "--config", good)
	if err != nil || !strings.Contains(out, "configuration OK") {
		t.Fatalf("good config: %v %s", err, out)
	}
	_, err = run(context.Background(), "check-config", "--config", bad)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"listen", "heartbeat.timeout", "limits.max_subscription", "auth"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

// TestDevModeAndPublishCommand runs the daemon as `fanoutd --dev` would,
// connects with the printed token and URL, and publishes with
// `fanoutd publish`.
func TestDevModeAndPublishCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "f.sock")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCmd()
	out := &syncBuffer{}
	cmd.SetOut(out)
	cmd.SetArgs([]string{"--dev", "--listen", "127.0.0.1:0", "--socket", sock, "--log-level", "error"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	url, tok := waitBanner(t, out)

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}})
	if err != nil {
		t.Fatalf("dial with the dev token: %v", err)
	}
	defer func() { _ = c.CloseNow() }()
	read := func() string {
		_, b, err := c.Read(dctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	read() // welcome
	if err := c.Write(dctx, websocket.MessageText, []byte(`{"action":"subscribe","channel":"project:demo"}`)); err != nil {
		t.Fatal(err)
	}
	if m := read(); !strings.Contains(m, `"subscribed"`) {
		t.Fatalf("subscribe reply %s", m)
	}
	pout, err := run(dctx, "publish", "--socket", sock, "--channel", "project:demo",
		"--type", "story.status.changed", "--data", `{"status":"done"}`)
	if err != nil {
		t.Fatalf("publish: %v %s", err, pout)
	}
	// The command prints the position, and the event carries the same one.
	var offset int
	var epoch string
	if _, err := fmt.Sscanf(pout, "published project:demo offset %d epoch %s", &offset, &epoch); err != nil || offset != 1 {
		t.Fatalf("publish printed %q, want the channel's first offset and its epoch (%v)", pout, err)
	}
	want := `{"type":"story.status.changed","channel":"project:demo","projectId":"demo","offset":1,"epoch":"` + epoch + `","payload":{"status":"done"}}`
	if m := read(); m != want {
		t.Fatalf("event %s, want %s", m, want)
	}
	if _, err := run(dctx, "publish", "--socket", sock, "--channel", "bad channel", "--type", "x"); err == nil {
		t.Fatal("publish of an invalid channel succeeded")
	}
}

var (
	bannerURL   = regexp.MustCompile(`WebSocket:\s+(ws://\S+)`)
	bannerToken = regexp.MustCompile(`dev token:\s+(\S+)`)
)

func waitBanner(t *testing.T, out *syncBuffer) (url, tok string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		s := out.String()
		if u, k := bannerURL.FindStringSubmatch(s), bannerToken.FindStringSubmatch(s); u != nil && k != nil {
			return u[1], k[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no dev banner in %q", out.String())
	return "", ""
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// failUpgradeChild plays a broken new binary in an upgrade when the test
// asked for one (upgradeFailEnv): "exit" exits at start, "refuse" receives
// the hand-off and refuses it as an image it cannot read. The old process
// is the real daemon.
func failUpgradeChild() {
	mode := os.Getenv(upgradeFailEnv)
	if mode == "" || os.Getenv(handoff.EnvFD) == "" {
		return // not a new process of an upgrade, or not to break
	}
	p, err := handoff.Inherited(os.Getenv)
	if err != nil || p == nil {
		os.Exit(4)
	}
	if mode == "refuse" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The real protocol up to the image: hello, the listeners, ready,
		// the connections and the image; then the refusal.
		if p.Hello(handoff.Hello{Version: "test", Images: []int{handoff.Version}}) == nil {
			if b, err := p.Receive(ctx); err == nil && p.Ready() == nil {
				b.Close()
				if b, err := p.Receive(ctx); err == nil {
					b.Close()
				}
			}
			_ = p.Refuse("test: image version 99 is not one this binary reads")
		}
	}
	os.Exit(3)
}
