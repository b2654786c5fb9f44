package fanoutd

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestLogsNeverCarryTokensOrPayloads runs a daemon at debug level through
// refused and accepted upgrades with every carrier, a publish, the
// operational endpoints (metrics, health, status, the TCP API with a wrong
// key) asked with a token in every place a client could put one, and a
// reload refused for a short secret, and checks that no log entry
// (message or field) holds a token, a key, a secret or the payload.
func TestLogsNeverCarryTokensOrPayloads(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	cfg := config.Default()
	cfg.Listen, cfg.Socket, cfg.Auth.HMACSecret = "127.0.0.1:0", t.TempDir()+"/f.sock", testSecret
	cfg.LogLevel = "debug"
	cfg.Metrics.Enabled, cfg.Status.Enabled, cfg.API.Key = true, true, "api-key-never-logged-0123456789"
	srv, err := New(Options{Config: cfg, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	url := "ws://" + srv.Addr().String() + "/ws"
	good := token(t, "leo", "*")
	forged := good[:len(good)-4] + "AAAA"
	const shortSecret = "too-short-secret"
	secrets := []string{good, forged, "payload-secret-marker", testSecret, cfg.API.Key, shortSecret}

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	for _, o := range []struct {
		query string
		opts  *websocket.DialOptions
	}{
		{query: "?token=" + forged, opts: &websocket.DialOptions{}},
		{opts: &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + forged}}}},
		{opts: &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + forged}}},
		{query: "?token=" + good, opts: &websocket.DialOptions{}},
	} {
		c, _, err := websocket.Dial(dctx, url+o.query, o.opts)
		if err == nil {
			_ = c.Write(dctx, websocket.MessageText, []byte(`{"action":"subscribe","channel":"x"}`))
			_, _, _ = c.Read(dctx)
			_, _, _ = c.Read(dctx)
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}
	if _, err := srv.Publish(dctx, Event{Channel: "x", Type: "t", Payload: []byte(`{"s":"payload-secret-marker"}`)}); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr().String()
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/", "/v1/stats", "/nowhere"} {
		req, _ := http.NewRequestWithContext(dctx, http.MethodGet, base+path+"?token="+good, nil)
		req.Header.Set("Authorization", "Bearer "+good)
		req.Header.Set("Cookie", "fanoutd_token="+good)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		_ = resp.Body.Close()
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s answers with a secret", path)
			}
		}
	}
	bad := cfg
	bad.Auth.HMACSecret = shortSecret
	if _, err := srv.Reload(bad); err == nil || strings.Contains(err.Error(), shortSecret) {
		t.Fatalf("reload with a short secret: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if logs.Len() == 0 {
		t.Fatal("no log entries at debug level: the test would prove nothing")
	}
	for _, e := range logs.All() {
		text := e.Message
		for k, v := range e.ContextMap() {
			text += " " + k + "=" + fmt.Sprint(v)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("log entry carries a secret: %q", text)
			}
		}
	}
}
