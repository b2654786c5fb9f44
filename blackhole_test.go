package fanoutd

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// TestBlackholedRedisLinkIsProbedAndRestarted: node A reaches Redis
// through an in-process toxiproxy that silently drops everything Redis
// sends (the link stays up, nothing arrives). The end-to-end probe notices
// (broker_up false), and once the link carries data again A's subscriber
// gets every event published meanwhile through node B, in order.
func TestBlackholedRedisLinkIsProbedAndRestarted(t *testing.T) {
	r := redistest.Start(t)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	proxy := toxiproxy.NewProxy(srv, "redis", "127.0.0.1:0", r.Addr)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)

	a := startDaemon(t, func(c *config.Config) {
		c.Broker.Type, c.Broker.Redis.Address = "redis", proxy.Listen
	})
	b := startDaemon(t, onRedis(r))
	w := a.dial(token(t, "u", "*"))
	w.subscribe("c")
	b.publish("c", "t", "1")
	w.expectEvent("c", "t")

	if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(
		`{"name":"blackhole","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 4; i++ {
		b.publish("c", "t", string(rune('0'+i)))
	}
	waitFor(t, 20*time.Second, "node A's probe to fail", func() bool { return !a.srv.Stats().BrokerUp })
	if code, body := get(t, "http://"+a.addr+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"broker"`) {
		t.Fatalf("/readyz with the link blackholed: %d %s, want 503 naming the broker", code, body)
	}

	proxy.Toxics.ResetToxics(t.Context())
	waitFor(t, 20*time.Second, "node A's link to be proven again", func() bool { return a.srv.Stats().BrokerUp })
	b.publish("c", "t", "5")
	want := 2.0
	for want <= 5 {
		m := w.next()
		if m["type"] == "missed" {
			t.Fatalf("got %v: the events were in Redis's stream and should have been caught up", m)
		}
		if m["offset"] != want {
			t.Fatalf("got %v, want offset %v", m, want)
		}
		want++
	}
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
