package ops

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// newRegistry is the daemon's own Prometheus registry: never the default
// registerer, so that two daemons in one process keep their metrics apart
// and an embedding application's own are not mixed in. Every fanoutd
// metric is read from the counters the core and the transport keep anyway
// (statsCollector), at scrape time: a delivery pays nothing for metrics.
func newRegistry(p *Ops) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statsCollector{p: p},
	)
	return reg
}

// Metrics serves the registry in the exposition format; errors go to the
// log, never to the scraper's answer as a half page.
func (p *Ops) Metrics() http.Handler {
	errLog, err := zap.NewStdLogAt(p.o.Logger.Named("metrics"), zap.WarnLevel)
	if err != nil {
		errLog = zap.NewStdLog(p.o.Logger)
	}
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorLog: errLog, ErrorHandling: promhttp.ContinueOnError})
}

// Desc builds a metric's description with the fanoutd_ prefix, for the
// collectors other packages register on Registry.
func Desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fanoutd_"+name, help, labels, nil)
}

// The metrics, documented in README (Operations: Metrics).
var (
	descBuild         = Desc("build_info", "The running fanoutd's version; always 1.", "version")
	descConnections   = Desc("connections", "Authenticated WebSocket sessions open now.")
	descTransport     = Desc("transport_connections", "Connections the transport holds now, handshakes included.")
	descSubscriptions = Desc("subscriptions", "Channel subscriptions held by the sessions now.")
	descChannels      = Desc("channels", "Channels with subscribers or history now.")
	descPublishes     = Desc("publishes_total", "Events published, by outcome: published, or duplicate (an idempotency key seen within the window).", "outcome")
	descDeliveries    = Desc("deliveries_total", "Events handed to subscribers, by outcome: queued to the connection; dropped (the connection was closing, or overflowed and was closed); skipped (a slow consumer's drop-oldest or latest policy passed over it).", "outcome")
	descQueueDrops    = Desc("queue_frames_dropped_total", "Event frames taken out of write queues by a slow-consumer policy: drop_oldest (dropped for room) or latest (replaced by a newer frame of the channel).", "policy")
	descSlowCloses    = Desc("slow_consumer_closes_total", "Connections closed with 4001 because their write queue overflowed.")
	descHeartbeat     = Desc("heartbeat_timeouts_total", "Connections closed with 4002: no answer within heartbeat.timeout of a ping.")
	descCloseCodes    = Desc("close_frames_sent_total", "Close frames sent, by code (\"other\" for codes not counted one by one).", "code")
	descUpgrades      = Desc("upgrades_total", "WebSocket upgrades completed.")
	descHandshakeFail = Desc("handshake_failures_total", "Upgrades refused or abandoned, by reason.", "reason")
	descHistoryBytes  = Desc("history_bytes", "Memory held by channel history (bounded by history.max_bytes).")
	descHistoryEvict  = Desc("history_evictions_total", "Channel histories dropped at history.max_bytes.")
	descBytesOut      = Desc("transport_bytes_written_total", "Bytes written to WebSocket clients.")
	descWrites        = Desc("transport_writes_total", "writev system calls that wrote something.")
	descLatency       = Desc("publish_to_write_seconds", "Time from an event's publish to the write that handed it to the kernel, for the oldest event of a sample of the writes (one in eight).")
	descReloads       = Desc("reloads_total", "Configuration reloads, by result: applied or refused.", "result")
	descReady         = Desc("ready", "1 while the daemon serves and is not draining (what /readyz answers 200 to).")
	descBrokerUp      = Desc("broker_up", "1 while the broker link is up and its last end-to-end probe came back; absent with the in-memory broker.")
	descBrokerGaps    = Desc("broker_gaps_total", "Breaks in a channel's sequence between nodes that the broker's history could not fill (subscribers got \"missed\").")
	descProbeSeconds  = Desc("probe_seconds", "How long the last hub probe (watchdog or broker watch) took to see its event come back; absent before the first.")
	descDeflateUp     = Desc("deflate_upgrades_total", "WebSocket upgrades that negotiated permessage-deflate.")
	descAdopted       = Desc("handoff_adopted_total", "Connections taken over from the previous process by a hand-off (restart or upgrade).")
	descCompressed    = Desc("compressed_events_total", "Events compressed for the subscribers that negotiated permessage-deflate: once per event, however many got it.")
)

// statsCollector turns the Server's counters into metrics at scrape time.
type statsCollector struct{ p *Ops }

var _ prometheus.Collector = (*statsCollector)(nil)

// Describe is called once, at registration.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuild, descConnections, descTransport, descSubscriptions, descChannels,
		descPublishes, descDeliveries, descQueueDrops, descSlowCloses, descHeartbeat, descCloseCodes, descUpgrades,
		descHandshakeFail, descHistoryBytes, descHistoryEvict, descBytesOut, descWrites, descLatency, descReloads,
		descReady, descBrokerUp, descBrokerGaps, descProbeSeconds, descDeflateUp, descCompressed, descAdopted} {
		ch <- d
	}
}

// Collect is called by each scrape, from the scrape's goroutine.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	p, src := c.p, c.p.o.Source
	n, t := p.o.Node.Stats(), src.TransportStats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descBuild, 1, p.o.Version)
	gauge(descConnections, float64(n.Connections))
	gauge(descTransport, float64(t.Conns))
	gauge(descSubscriptions, float64(n.Subscriptions))
	gauge(descChannels, float64(n.Channels))
	counter(descPublishes, n.Published, "published")
	counter(descPublishes, n.Duplicates, "duplicate")
	counter(descDeliveries, n.Delivered, "queued")
	counter(descDeliveries, n.Dropped, "dropped")
	counter(descDeliveries, n.Skipped, "skipped")
	counter(descQueueDrops, t.DroppedFrames, "drop_oldest")
	counter(descQueueDrops, t.ConflatedFrames, "latest")
	counter(descSlowCloses, t.SlowConsumer)
	counter(descHeartbeat, t.HeartbeatTimeout)
	for code, v := range src.CloseCodesSent() {
		label := "other"
		if code != 0 {
			label = strconv.Itoa(code)
		}
		counter(descCloseCodes, v, label)
	}
	counter(descUpgrades, t.Upgraded)
	counter(descDeflateUp, t.DeflateUpgraded)
	counter(descAdopted, t.Adopted)
	counter(descCompressed, n.CompressedEvents)
	for reason, v := range src.Refusals(t) {
		counter(descHandshakeFail, v, reason)
	}
	gauge(descHistoryBytes, float64(n.HistoryBytes))
	counter(descHistoryEvict, n.HistoryEvictions)
	counter(descBytesOut, t.BytesOut)
	counter(descWrites, t.Writes)
	c.latency(ch)
	applied, refused := src.Reloads()
	counter(descReloads, applied, "applied")
	counter(descReloads, refused, "refused")
	gauge(descReady, b2f(p.Ready()))
	if present, up, _ := src.Broker(); present {
		gauge(descBrokerUp, b2f(up))
		counter(descBrokerGaps, n.Gaps)
	}
	if ns := p.probeNanos.Load(); ns > 0 {
		gauge(descProbeSeconds, float64(ns)/1e9)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *statsCollector) latency(ch chan<- prometheus.Metric) {
	l := c.p.o.Source.WriteLatency()
	buckets := make(map[float64]uint64, len(l.Bounds))
	for i, b := range l.Bounds {
		buckets[b.Seconds()] = l.Cumulative[i]
	}
	ch <- prometheus.MustNewConstHistogram(descLatency, l.Count, l.Sum.Seconds(), buckets)
}
