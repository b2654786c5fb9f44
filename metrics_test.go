package fanoutd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs url and parses the answer as the Prometheus text exposition
// format: a page that does not parse fails the test.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not the exposition format: %v", url, err)
	}
	return fams
}

// value is the value of the sample of name whose labels include want
// (name=value pairs); it fails the test when there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == want[i] && l.GetValue() == want[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no sample of %s with %v", name, want)
	return 0
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsScrapedAndParsed: /metrics on the TCP listener parses as
// the exposition format and its numbers follow what clients and
// publishers did; a second daemon in the process counts nothing of it.
func TestMetricsScrapedAndParsed(t *testing.T) {
	on := func(c *config.Config) { c.Metrics.Enabled = true }
	d := startDaemon(t, on)
	other := startDaemon(t, on)
	a, b := d.dial(token(t, "ann", "*")), d.dial(token(t, "bob", "*"))
	a.subscribe("news")
	b.subscribe("news")
	const events = 24
	for i := range events {
		d.publish("news", "tick", fmt.Sprintf(`{"n":%d}`, i))
		a.expectEvent("news", "tick")
		b.expectEvent("news", "tick")
	}
	d.dialStatus(subprotocol("not-a-token"), "")
	fams := scrape(t, "http://"+d.addr+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"fanoutd_connections", nil, 2},
		{"fanoutd_subscriptions", nil, 2},
		{"fanoutd_channels", nil, 1},
		{"fanoutd_publishes_total", []string{"outcome", "published"}, events},
		{"fanoutd_deliveries_total", []string{"outcome", "queued"}, 2 * events},
		{"fanoutd_deliveries_total", []string{"outcome", "dropped"}, 0},
		{"fanoutd_handshake_failures_total", []string{"reason", "token"}, 1},
		{"fanoutd_handshake_failures_total", []string{"reason", "origin"}, 0},
		{"fanoutd_upgrades_total", nil, 2},
		{"fanoutd_deflate_upgrades_total", nil, 0},
		{"fanoutd_compressed_events_total", nil, 0},
		{"fanoutd_ready", nil, 1},
		{"fanoutd_build_info", []string{"version", "dev"}, 1},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// One write in eight is sampled: 2 clients × 24 events written one at a
	// time make at least 6 samples.
	if got := value(t, fams, "fanoutd_publish_to_write_seconds"); got < 1 {
		t.Errorf("publish→write latency: %v samples, want some", got)
	}
	for _, name := range []string{"go_goroutines", "process_open_fds", "fanoutd_history_bytes"} {
		value(t, fams, name)
	}
	if got := value(t, scrape(t, "http://"+other.addr+"/metrics"), "fanoutd_connections"); got != 0 {
		t.Errorf("the other daemon counts %v connections: registries are shared", got)
	}
}

// TestMetricsOnTheirOwnAddress: with metrics.listen, /metrics, /healthz
// and /readyz are served there and /metrics is not on the WebSocket
// port; /readyz turns 503 as soon as the drain begins, and a failing
// readiness check of the application's makes it 503 as well.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	cfg := testConfig(t, func(c *config.Config) {
		c.Metrics = config.Metrics{Enabled: true, Listen: "127.0.0.1:0"}
		c.Drain.Window = 2 * time.Second
	})
	var broker error
	d := runDaemon(t, Options{Config: cfg, ReadinessChecks: []ReadinessCheck{
		{Name: "broker", Check: func(context.Context) error { return broker }},
	}})
	base := "http://" + d.srv.MetricsAddr().String()
	value(t, scrape(t, base+"/metrics"), "fanoutd_connections")
	if code, _ := get(t, "http://"+d.addr+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("/metrics on the WebSocket port: %d, want 404", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		for _, b := range []string{base, "http://" + d.addr} {
			if code, body := get(t, b+p); code != http.StatusOK {
				t.Fatalf("GET %s%s: %d %s", b, p, code, body)
			}
		}
	}
	broker = errors.New("no link to the broker")
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"broker":"no link to the broker"`) {
		t.Fatalf("/readyz with a failing check: %d %s", code, body)
	}
	broker = nil
	d.dial(token(t, "ann", "*")) // keeps the drain going for its window
	go func() { _ = d.stop() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "draining") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz during the drain: %d %s, want 503 draining", code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz during the drain: %d, want 200: the process is alive", code)
	}
}
