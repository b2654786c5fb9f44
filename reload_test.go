package fanoutd

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const rotatedSecret = "rotated-secret-that-is-long-enough-9876543210"

// reloadable is a daemon whose configuration is a YAML file the test
// rewrites, reloaded as SIGHUP does (Server.ReloadFromSource).
type reloadable struct {
	*testDaemon
	file  string
	base  string // the file's lines the test does not change
	level zap.AtomicLevel
	logs  *observer.ObservedLogs
}

func startReloadable(t *testing.T) *reloadable {
	t.Helper()
	dir := t.TempDir()
	r := &reloadable{file: filepath.Join(dir, "fanoutd.yaml"), level: zap.NewAtomicLevelAt(zap.InfoLevel)}
	// An hour between pings: the child's raw clients do not answer them.
	r.base = "listen: 127.0.0.1:0\nsocket: " + filepath.Join(dir, "f.sock") + "\nheartbeat:\n  interval: 1h\n"
	r.write(t, "auth:\n  hmac_secret: "+testSecret+"\nlog_level: info\n")
	load := func() (config.Config, error) { return config.Load(config.Source{File: r.file, Environ: []string{}}) }
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(r.level)
	r.logs = logs
	r.testDaemon = runDaemon(t, Options{Config: cfg, Logger: zap.New(core), Level: &r.level, LoadConfig: load})
	return r
}

func (r *reloadable) write(t *testing.T, rest string) {
	t.Helper()
	if err := os.WriteFile(r.file, []byte(r.base+rest), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloadChangesTheLogLevel(t *testing.T) {
	r := startReloadable(t)
	r.write(t, "auth:\n  hmac_secret: "+testSecret+"\nlog_level: debug\n")
	report, err := r.srv.ReloadFromSource()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.Applied, []string{"log_level"}) || len(report.RestartRequired) != 0 {
		t.Fatalf("report %+v, want log_level applied", report)
	}
	if !r.level.Enabled(zap.DebugLevel) {
		t.Fatal("the level is still info")
	}
	w := r.dial(token(t, "ann", "*"))
	w.subscribe("a")
	if r.logs.FilterMessage("upgraded").FilterLevelExact(zap.DebugLevel).Len() == 0 {
		t.Fatal("no debug line after the reload to debug")
	}
}

// TestReloadRotatesTheSecret: after a reload with a new HMAC secret, a
// token signed with the old one is refused for a new connection, one with
// the new one is accepted, and the connection made before stays and keeps
// receiving events.
func TestReloadRotatesTheSecret(t *testing.T) {
	r := startReloadable(t)
	old := r.dial(token(t, "ann", "*"))
	old.subscribe("news")
	r.write(t, "auth:\n  hmac_secret: "+rotatedSecret+"\n")
	report, err := r.srv.ReloadFromSource()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.Applied, []string{"auth.hmac_secret"}) {
		t.Fatalf("applied %q, want auth.hmac_secret", report.Applied)
	}
	if got := r.dialStatus(subprotocol(token(t, "bob", "*")), ""); got != http.StatusUnauthorized {
		t.Fatalf("a token of the old secret after rotation: %d, want 401", got)
	}
	tok, err := jwtauth.Mint([]byte(rotatedSecret), "bob", []string{"*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fresh := r.dial(tok)
	fresh.subscribe("news")
	r.publish("news", "after.rotation", `{}`)
	old.expectEvent("news", "after.rotation")
	fresh.expectEvent("news", "after.rotation")
	if strings.Contains(logText(r.logs), rotatedSecret) || strings.Contains(logText(r.logs), testSecret) {
		t.Fatal("a secret reached the log")
	}
}

// TestReloadRefusesABadFileAndKeepsTheOldConfig, through the API's route
// too: the answer lists the problems by key, and the daemon goes on with
// the configuration it had.
func TestReloadRefusesABadFileAndKeepsTheOldConfig(t *testing.T) {
	r := startReloadable(t)
	r.write(t, "auth:\n  hmac_secret: short\nlimits:\n  max_subscriptions: 0\nlog_level: debug\n")
	_, err := r.srv.ReloadFromSource()
	var rerr *ReloadError
	if !errors.As(err, &rerr) || len(rerr.Problems()) != 2 {
		t.Fatalf("reload of a bad file: %v, want a ReloadError with two problems", err)
	}
	status, body := r.postPath("/v1/reload", "")
	var answer struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || status != http.StatusBadRequest {
		t.Fatalf("POST /v1/reload: %d %s", status, body)
	}
	if len(answer.Errors) != 2 || !strings.HasPrefix(answer.Errors[0], "limits.max_subscriptions:") ||
		!strings.HasPrefix(answer.Errors[1], "auth.hmac_secret:") || strings.Contains(body, "short") {
		t.Fatalf("errors %q: want both keys named, the secret never", answer.Errors)
	}
	if r.level.Enabled(zap.DebugLevel) {
		t.Fatal("a refused reload changed the log level")
	}
	w := r.dial(token(t, "ann", "*")) // the old secret still verifies
	w.subscribe("a")
	if r.logs.FilterMessage("reload refused; the previous configuration stays in force").Len() != 2 {
		t.Fatal("the refusals were not logged")
	}
}

// TestReloadReportsWhatNeedsARestart: a changed listen address is
// reported, logged and left alone; a live key changed with it applies.
func TestReloadReportsWhatNeedsARestart(t *testing.T) {
	r := startReloadable(t)
	r.base = strings.Replace(r.base, "127.0.0.1:0", "127.0.0.1:1", 1)
	r.write(t, "auth:\n  hmac_secret: "+testSecret+"\nlimits:\n  max_subscriptions: 1\n")
	status, body := r.postPath("/v1/reload", "")
	var report ReloadReport
	if err := json.Unmarshal([]byte(body), &report); err != nil || status != http.StatusOK {
		t.Fatalf("POST /v1/reload: %d %s", status, body)
	}
	if !slices.Equal(report.RestartRequired, []string{"listen"}) || !slices.Equal(report.Applied, []string{"limits.max_subscriptions"}) {
		t.Fatalf("report %+v, want listen to need a restart and max_subscriptions applied", report)
	}
	if r.logs.FilterMessage("some changed settings need a restart to take effect; they keep their old values until then").Len() != 1 {
		t.Fatal("the restart-only change was not logged as a warning")
	}
	w := r.dial(token(t, "ann", "*")) // still on the old address
	w.subscribe("a")
	w.send(`{"action":"subscribe","channel":"b","id":"b"}`)
	if m := w.next(); m["type"] != "error" || m["code"] != "too_many_subscriptions" {
		t.Fatalf("second subscription after max_subscriptions 1: %v", m)
	}
}

// postPath sends a POST to path on the Unix socket.
func (d *testDaemon) postPath(path, body string) (int, string) {
	d.t.Helper()
	hc := &http.Client{Transport: unixTransport(d.socket), Timeout: 10 * time.Second}
	resp, err := hc.Post("http://fanoutd"+path, "application/json", strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	return resp.StatusCode, readAll(resp)
}

// logText is every observed entry, message and fields, as one string.
func logText(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		b.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			b.WriteString(" " + k + "=")
			_ = json.NewEncoder(&b).Encode(v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestThousandClientsStayThroughAKeyRotation: 1,000 connections held by
// another process stay open and subscribed through a reload that rotates
// the HMAC secret, and each still gets the next publish; a new connection
// with a token of the old key is refused.
func TestThousandClientsStayThroughAKeyRotation(t *testing.T) {
	const total = 1000
	r := startReloadable(t)
	child := startChildClients(t, r.addr, token(t, "load", "room:*"))
	child.open(total)
	r.waitConns(total)
	r.write(t, "auth:\n  hmac_secret: "+rotatedSecret+"\n")
	if _, err := r.srv.ReloadFromSource(); err != nil {
		t.Fatal(err)
	}
	if got := r.dialStatus(subprotocol(token(t, "load", "room:*")), ""); got != http.StatusUnauthorized {
		t.Fatalf("old key after rotation: %d, want 401", got)
	}
	before := r.srv.Stats().Delivered
	r.publish("room:all", "after.rotation", `{}`)
	if got := r.srv.Stats().Delivered - before; got != total {
		t.Fatalf("the publish after the rotation reached %d connections, want %d", got, total)
	}
	r.waitConns(total)
	child.stop()
	r.waitConns(0)
}
