package fanoutd

import (
	"cmp"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"go.uber.org/zap"
)

// statusPage serves GET / when status.enabled: the daemon at a glance for
// an operator, one small HTML page with no script and no external asset,
// refreshing itself every few seconds. Rates are taken between the
// samples its own requests leave in a short ring, so it costs nothing
// while nobody looks (no goroutine, no timer).
type statusPage struct {
	s  *Server
	mu sync.Mutex
	// ring holds the last samples, oldest first.
	ring []statusSample
}

// statusSample is the counters at one request.
type statusSample struct {
	at                   time.Time
	published, delivered uint64
}

const (
	statusRefresh = 5 * time.Second
	statusSamples = 60 // five minutes at one look per refresh
)

// sample records the counters now and returns the ring's oldest sample
// (the span the rates are over), or ok false on the first look.
func (p *statusPage) sample(now statusSample) (oldest statusSample, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.ring); n == 0 || now.at.Sub(p.ring[n-1].at) >= time.Second {
		if n == statusSamples {
			p.ring = append(p.ring[:0], p.ring[1:]...)
		}
		p.ring = append(p.ring, now)
	}
	if len(p.ring) < 2 {
		return statusSample{}, false
	}
	return p.ring[0], true
}

// statusView is what the template shows; every string in it is escaped by
// html/template.
type statusView struct {
	Version, Uptime, Started          string
	Ready                             bool
	Connections, Subscriptions        int64
	Channels                          int
	Published, Delivered, Dropped     uint64
	PublishRate, DeliveryRate, RateOf string
	HistoryBytes                      int64
	Closes                            []statusCount
	Refusals                          []statusCount
	Config                            []statusCount
	Refresh                           int
	// Live updates: the token for statusChannel ("" for none), the
	// WebSocket path and the script's CSP nonce.
	Token, WSPath, Nonce string
}

type statusCount struct{ Name, Value string }

func (p *statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := p.s
	if !s.statusHostAllowed(r.Host, *s.live.Load()) {
		// 421: this server does not answer for that name (DNS rebinding).
		http.Error(w, "unknown host: add it to status.allowed_hosts", http.StatusMisdirectedRequest)
		return
	}
	n := s.node.Stats()
	now := s.now()
	v := statusView{
		Version: s.version, Started: s.started.UTC().Format(time.RFC3339),
		Uptime: now.Sub(s.started).Truncate(time.Second).String(), Ready: s.ready(),
		Connections: n.Connections, Subscriptions: n.Subscriptions, Channels: n.Channels,
		Published: n.Published, Delivered: n.Delivered, Dropped: n.Dropped, HistoryBytes: n.HistoryBytes,
		Config: configSummary(*s.live.Load(), s.Addr().String()), Refresh: int(statusRefresh.Seconds()),
		Token: s.statusToken(*s.live.Load()), WSPath: s.cfg.WSPath, Nonce: newNonce(),
	}
	cur := statusSample{at: now, published: n.Published, delivered: n.Delivered}
	from, ok := p.sample(cur)
	if !ok { // first look: the average since start
		from = statusSample{at: s.started}
	}
	secs := cur.at.Sub(from.at).Seconds()
	if secs > 0 {
		v.PublishRate = strconv.FormatFloat(float64(cur.published-from.published)/secs, 'f', 1, 64)
		v.DeliveryRate = strconv.FormatFloat(float64(cur.delivered-from.delivered)/secs, 'f', 1, 64)
		v.RateOf = cur.at.Sub(from.at).Truncate(time.Second).String()
	}
	for code, c := range s.ws.CloseCodesSent() {
		name := "other"
		if code != 0 {
			name = strconv.Itoa(code)
		}
		v.Closes = append(v.Closes, statusCount{name, strconv.FormatUint(c, 10)})
	}
	for reason, c := range s.handshakeFailures(s.ws.Stats()) {
		if c != 0 {
			v.Refusals = append(v.Refusals, statusCount{reason, strconv.FormatUint(c, 10)})
		}
	}
	sortCounts(v.Closes)
	sortCounts(v.Refusals)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Only this response's own script, a WebSocket back to this daemon, no
	// style or image from elsewhere, no framing by others.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+v.Nonce+
		"'; connect-src 'self' ws: wss:; img-src data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := statusTemplate.Execute(w, v); err != nil {
		s.log.Debug("status page not written", zap.Error(err))
	}
}

func sortCounts(c []statusCount) {
	slices.SortFunc(c, func(a, b statusCount) int { return strings.Compare(a.Name, b.Name) })
}

// configSummary is the configuration an operator wants to see at a
// glance, without a secret, a secret's file path, or key material: those
// read "set" or "not set".
func configSummary(c config.Config, listen string) []statusCount {
	set := func(v string) string {
		if v == "" {
			return "not set"
		}
		return "set"
	}
	list := func(v []string) string {
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ", ")
	}
	or := func(v string) string { return cmp.Or(v, "none") }
	hmac := set(c.Auth.HMACSecret + c.Auth.HMACSecretFile)
	if n := len(c.Auth.HMACSecrets); n > 0 {
		hmac = strconv.Itoa(n) + " secrets (rotation)"
	}
	if hmac == "not set" && c.Dev {
		hmac = "random (dev mode)"
	}
	d, i := func(v time.Duration) string { return v.String() }, strconv.Itoa
	l := c.Limits
	return []statusCount{
		{"listen", listen}, {"ws_path", c.WSPath}, {"socket", c.Socket}, {"log_level", c.LogLevel},
		{"dev", strconv.FormatBool(c.Dev)}, {"workers", i(c.Workers)},
		{"auth.algorithms", list(c.Auth.Algorithms)}, {"auth HMAC key", hmac},
		{"auth public keys", set(c.Auth.PublicKeyFile + c.Auth.JWKSFile + c.Auth.JWKSURL)}, {"auth.audience", or(c.Auth.Audience)},
		{"auth.issuer", or(c.Auth.Issuer)}, {"auth.anonymous", strconv.FormatBool(c.Auth.Anonymous)},
		{"auth.public_channels", list(c.Auth.PublicChannels)}, {"origins", list(c.Origins)},
		{"api.key", set(c.API.Key)},
		{"heartbeat", d(c.Heartbeat.Interval) + " / " + d(c.Heartbeat.Timeout)},
		{"limits.max_connections", i(l.MaxConnections)}, {"limits.max_subscriptions", i(l.MaxSubscriptions)},
		{"limits.max_connections_per_ip / _per_user", i(l.MaxConnectionsPerIP) + " / " + i(l.MaxConnectionsPerUser)},
		{"limits.upgrade_rate", i(l.UpgradeRate)}, {"limits.commands_per_second", i(l.CommandsPerSecond)},
		{"limits.max_message_size", i(l.MaxMessageSize)}, {"limits.write_queue_bytes", i(l.WriteQueueBytes)},
		{"history", i(c.History.Size) + " events, " + d(c.History.TTL) + ", " + i(c.History.MaxBytes) + " bytes"},
		{"slow_consumer", c.SlowConsumer}, {"channels classes", i(len(c.Channels))},
		{"drain", d(c.Drain.Window) + ", close " + i(c.Drain.CloseCode) + ", reconnect after " + d(c.Drain.ReconnectAfter)},
		{"metrics", strconv.FormatBool(c.Metrics.Enabled) + " " + c.Metrics.Listen},
	}
}

var statusTemplate = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{{if not .Token}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fanoutd {{.Version}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.5em}
.n{font-size:1.8em;font-weight:600}.grid{display:flex;flex-wrap:wrap;gap:1.5em}
.grid div{min-width:9em}table{border-collapse:collapse}td{padding:.15em .8em .15em 0;vertical-align:top}
td:first-child{color:#666}.ok{color:#070}.bad{color:#a00}
</style></head><body>
<h1>fanoutd {{.Version}} — {{if .Ready}}<span class="ok">serving</span>{{else}}<span class="bad">not ready</span>{{end}}</h1>
<p>up {{.Uptime}} (since {{.Started}}) · updates: <span id="live" data-state="{{if .Token}}connecting{{else}}reload{{end}}">{{if .Token}}connecting…{{else}}page reload every {{.Refresh}} s{{end}}</span></p>
<div class="grid">
<div><div class="n" id="connections">{{.Connections}}</div>connections</div>
<div><div class="n" id="subscriptions">{{.Subscriptions}}</div>subscriptions</div>
<div><div class="n" id="channels">{{.Channels}}</div>channels</div>
<div><div class="n" id="publish-rate">{{or .PublishRate "–"}}</div>publishes/s</div>
<div><div class="n" id="delivery-rate">{{or .DeliveryRate "–"}}</div>deliveries/s</div>
</div>
<div class="grid">
<div><svg id="chart-connections" width="240" height="48" aria-label="connections, last minute"><polyline fill="none" stroke="#36c" stroke-width="2" points=""/></svg><br>connections, last minute</div>
<div><svg id="chart-deliveries" width="240" height="48" aria-label="deliveries per second, last minute"><polyline fill="none" stroke="#3a3" stroke-width="2" points=""/></svg><br>deliveries/s, last minute</div>
</div>
<p>Rates over the last {{or .RateOf "–"}}. Totals: {{.Published}} published, {{.Delivered}} delivered,
{{.Dropped}} dropped; history holds {{.HistoryBytes}} bytes.</p>
<h2>Close frames sent, by code</h2>
<table>{{range .Closes}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{else}}<tr><td>none yet</td></tr>{{end}}</table>
<h2>Refused upgrades, by reason</h2>
<table>{{range .Refusals}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{else}}<tr><td>none</td></tr>{{end}}</table>
<h2>Configuration</h2>
<table>{{range .Config}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
{{if .Token}}<script nonce="{{.Nonce}}">
(() => {
  const token = {{.Token}}, path = {{.WSPath}}, live = document.getElementById('live');
  const series = { connections: [], deliveries: [] };
  let last = null;
  const draw = (id, values) => {
    const line = document.querySelector('#' + id + ' polyline');
    const max = Math.max(1, ...values);
    line.setAttribute('points', values.map((v, i) => (i * 4) + ',' + (46 - 44 * v / max)).join(' '));
  };
  const set = (id, v) => { document.getElementById(id).textContent = v; };
  const connect = () => {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path,
      ['fanout.v1', 'bearer.' + token]);
    ws.onopen = () => ws.send(JSON.stringify({ action: 'subscribe', channel: 'fanoutd.status' }));
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (f.type === 'subscribed') { live.dataset.state = 'open'; live.textContent = 'live'; }
      if (f.type !== 'status') return;
      const s = f.payload;
      set('connections', s.connections); set('subscriptions', s.subscriptions); set('channels', s.channels);
      if (last && s.at > last.at) {
        const secs = (s.at - last.at) / 1000;
        const pr = (s.published - last.published) / secs, dr = (s.delivered - last.delivered) / secs;
        set('publish-rate', pr.toFixed(1)); set('delivery-rate', dr.toFixed(1));
        series.deliveries = series.deliveries.concat([dr]).slice(-60);
      }
      series.connections = series.connections.concat([s.connections]).slice(-60);
      draw('chart-connections', series.connections); draw('chart-deliveries', series.deliveries);
      last = s;
    };
    ws.onclose = () => { live.dataset.state = 'closed'; live.textContent = 'reconnecting…'; setTimeout(connect, 2000); };
  };
  connect();
})();
</script>{{end}}
</body></html>
`))
