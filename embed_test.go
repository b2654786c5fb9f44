package fanoutd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/internal/wstest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// instance is one embedded Server with what an embedding program owns:
// its own config, logger and listeners.
type instance struct {
	*testDaemon
	name   string
	secret string
	logs   *observer.ObservedLogs
}

func embedInstance(t *testing.T, name string, mutate func(*config.Config)) *instance {
	t.Helper()
	secret := "secret-of-instance-" + name + "-long-enough-0123456789"
	cfg := testConfig(t, func(c *config.Config) {
		c.WSPath = "/" + name
		c.Socket = filepath.Join(t.TempDir(), name+".sock")
		c.Auth.HMACSecret = secret
		c.LogLevel = "debug"
	}, mutate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	d := runDaemon(t, Options{Config: cfg, Logger: zap.New(core), Listener: ln})
	return &instance{testDaemon: d, name: name, secret: secret, logs: logs}
}

// subscriber connects with a token of this instance and subscribes.
func (in *instance) subscriber(t *testing.T, channel string) *wsClient {
	t.Helper()
	tok, err := jwtauth.Mint([]byte(in.secret), "user-of-"+in.name, []string{"*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := in.dial(tok)
	w.subscribe(channel)
	return w
}

// logText is every entry of the instance's log, message and fields.
func (in *instance) logText() string {
	var sb strings.Builder
	for _, e := range in.logs.All() {
		sb.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			fmt.Fprintf(&sb, " %s=%v", k, v)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TestTwoInstancesInOneProcess embeds two Servers side by side, each with
// its own config (paths, secrets, the echo route on A only), logger,
// WebSocket listener and Unix socket, and checks that nothing crosses:
// events, tokens, counters, log lines, shutdown.
func TestTwoInstancesInOneProcess(t *testing.T) {
	a := embedInstance(t, "a", func(c *config.Config) { c.Conformance = config.Conformance{Enabled: true, EchoPath: "/echo"} })
	b := embedInstance(t, "b", func(*config.Config) {})
	const ch = "project:shared" // the same channel name on both
	wa, wb := a.subscriber(t, ch), b.subscriber(t, ch)

	// A publishes in-process, B over its own socket. A's event is queued
	// before B's is published, so if it leaked to B's subscriber it would
	// come first there: no waiting for an absence.
	if _, err := a.srv.Publish(context.Background(), Event{Channel: ch, Type: "from.a", Payload: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	b.publish(ch, "from.b", `{"n":2}`)
	wa.expectEvent(ch, "from.a")
	wb.expectEvent(ch, "from.b")

	// B's token means nothing to A, and a refused upgrade is logged by the
	// instance that refused it only.
	tokB, err := jwtauth.Mint([]byte(b.secret), "intruder", []string{"*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, head := wstest.Connect(t, a.addr, "/a", "Authorization: Bearer "+tokB+"\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 401 ") {
		t.Fatalf("A answered B's token with %q, want 401", head)
	}
	refused := c.NC.LocalAddr().String()

	sa, sb := a.srv.Stats(), b.srv.Stats()
	if sa.Published != 1 || sb.Published != 1 || sa.Connections != 1 || sb.Connections != 1 {
		t.Errorf("stats cross: A published %d with %d connections, B published %d with %d; want 1 and 1 each",
			sa.Published, sa.Connections, sb.Published, sb.Connections)
	}
	if sa.Transport.Rejected != 1 || sb.Transport.Rejected != 0 {
		t.Errorf("rejected upgrades: A %d, B %d; want 1 and 0", sa.Transport.Rejected, sb.Transport.Rejected)
	}

	// Stopping A leaves B serving. The clients read while the servers
	// shut down, so that they answer the close frame at once.
	closedA := closeCode(wa)
	if err := a.stop(); err != nil {
		t.Fatalf("A run: %v", err)
	}
	if got := <-closedA; got != websocket.StatusGoingAway {
		t.Errorf("A's client closed with %v, want 1001", got)
	}
	if _, err := os.Stat(a.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("A's socket after shutdown: %v, want it removed", err)
	}
	b.publish(ch, "after.a", `{}`)
	wb.expectEvent(ch, "after.a")
	closedB := closeCode(wb)
	if err := b.stop(); err != nil {
		t.Fatalf("B run: %v", err)
	}
	if got := <-closedB; got != websocket.StatusGoingAway {
		t.Errorf("B's client closed with %v, want 1001", got)
	}

	la, lb := a.logText(), b.logText()
	switch {
	case la == "" || lb == "":
		t.Fatalf("an instance logged nothing at debug level: the checks below would prove nothing\nA:\n%s\nB:\n%s", la, lb)
	case !strings.Contains(la, "remote="+refused):
		t.Errorf("A's log misses the upgrade it refused (%s):\n%s", refused, la)
	case strings.Contains(lb, refused):
		t.Errorf("B's log has A's refused upgrade (%s):\n%s", refused, lb)
	case !strings.Contains(la, "conformance echo route"):
		t.Errorf("A's log misses its echo route warning:\n%s", la)
	case strings.Contains(lb, "conformance echo route"):
		t.Errorf("B's log has A's echo route warning:\n%s", lb)
	}
}

// closeCode reads w in the background, skipping messages, and reports the
// close code it ends with (-1 when it ended otherwise).
func closeCode(w *wsClient) <-chan websocket.StatusCode {
	out := make(chan websocket.StatusCode, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			if _, _, err := w.c.Read(ctx); err != nil {
				out <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	return out
}
