package fanoutd

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// newRegistry is the Server's own Prometheus registry: never the default
// registerer, so that two daemons in one process keep their metrics apart
// and an embedding application's own are not mixed in. Every fanoutd
// metric is read from the counters the core and the transport keep anyway
// (statsCollector), at scrape time: a delivery pays nothing for metrics.
func newRegistry(s *Server) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statsCollector{s: s},
	)
	return reg
}

// metricsHandler serves the registry in the exposition format; errors go
// to the log, never to the scraper's answer as a half page.
func (s *Server) metricsHandler() http.Handler {
	errLog, err := zap.NewStdLogAt(s.log.Named("metrics"), zap.WarnLevel)
	if err != nil {
		errLog = zap.NewStdLog(s.log)
	}
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{ErrorLog: errLog, ErrorHandling: promhttp.ContinueOnError})
}

// desc builds a metric's description with the fanoutd_ prefix.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fanoutd_"+name, help, labels, nil)
}

// The metrics, documented in README (Operations: Metrics).
var (
	descBuild         = desc("build_info", "The running fanoutd's version; always 1.", "version")
	descConnections   = desc("connections", "Authenticated WebSocket sessions open now.")
	descTransport     = desc("transport_connections", "Connections the transport holds now, handshakes included.")
	descSubscriptions = desc("subscriptions", "Channel subscriptions held by the sessions now.")
	descChannels      = desc("channels", "Channels with subscribers or history now.")
	descPublishes     = desc("publishes_total", "Events published, by outcome: published, or duplicate (an idempotency key seen within the window).", "outcome")
	descDeliveries    = desc("deliveries_total", "Events handed to subscribers, by outcome: queued to the connection; dropped (the connection was closing, or overflowed and was closed); skipped (a slow consumer's drop-oldest or latest policy passed over it).", "outcome")
	descQueueDrops    = desc("queue_frames_dropped_total", "Event frames taken out of write queues by a slow-consumer policy: drop_oldest (dropped for room) or latest (replaced by a newer frame of the channel).", "policy")
	descSlowCloses    = desc("slow_consumer_closes_total", "Connections closed with 4001 because their write queue overflowed.")
	descHeartbeat     = desc("heartbeat_timeouts_total", "Connections closed with 4002: no answer within heartbeat.timeout of a ping.")
	descCloseCodes    = desc("close_frames_sent_total", "Close frames sent, by code (\"other\" for codes not counted one by one).", "code")
	descUpgrades      = desc("upgrades_total", "WebSocket upgrades completed.")
	descHandshakeFail = desc("handshake_failures_total", "Upgrades refused or abandoned, by reason.", "reason")
	descHistoryBytes  = desc("history_bytes", "Memory held by channel history (bounded by history.max_bytes).")
	descHistoryEvict  = desc("history_evictions_total", "Channel histories dropped at history.max_bytes.")
	descBytesOut      = desc("transport_bytes_written_total", "Bytes written to WebSocket clients.")
	descWrites        = desc("transport_writes_total", "writev system calls that wrote something.")
	descLatency       = desc("publish_to_write_seconds", "Time from an event's publish to the write that handed it to the kernel, for the oldest event of a sample of the writes (one in eight).")
	descReloads       = desc("reloads_total", "Configuration reloads, by result: applied or refused.", "result")
	descReady         = desc("ready", "1 while the daemon serves and is not draining (what /readyz answers 200 to).")
	descBrokerUp      = desc("broker_up", "1 while the broker link is up and its last end-to-end probe came back; absent with the in-memory broker.")
	descBrokerGaps    = desc("broker_gaps_total", "Breaks in a channel's sequence between nodes that the broker's history could not fill (subscribers got \"missed\").")
	descDeflateUp     = desc("deflate_upgrades_total", "WebSocket upgrades that negotiated permessage-deflate.")
	descCompressed    = desc("compressed_events_total", "Events compressed for the subscribers that negotiated permessage-deflate: once per event, however many got it.")
)

// statsCollector turns the Server's counters into metrics at scrape time.
type statsCollector struct{ s *Server }

var _ prometheus.Collector = (*statsCollector)(nil)

// Describe is called once, at registration.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuild, descConnections, descTransport, descSubscriptions, descChannels,
		descPublishes, descDeliveries, descQueueDrops, descSlowCloses, descHeartbeat, descCloseCodes, descUpgrades,
		descHandshakeFail, descHistoryBytes, descHistoryEvict, descBytesOut, descWrites, descLatency, descReloads,
		descReady, descBrokerUp, descBrokerGaps, descDeflateUp, descCompressed} {
		ch <- d
	}
}

// Collect is called by each scrape, from the scrape's goroutine.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	n, t := s.node.Stats(), s.ws.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descBuild, 1, s.version)
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
	for code, v := range s.ws.CloseCodesSent() {
		label := "other"
		if code != 0 {
			label = strconv.Itoa(code)
		}
		counter(descCloseCodes, v, label)
	}
	counter(descUpgrades, t.Upgraded)
	counter(descDeflateUp, t.DeflateUpgraded)
	counter(descCompressed, n.CompressedEvents)
	for reason, v := range s.handshakeFailures(t) {
		counter(descHandshakeFail, v, reason)
	}
	gauge(descHistoryBytes, float64(n.HistoryBytes))
	counter(descHistoryEvict, n.HistoryEvictions)
	counter(descBytesOut, t.BytesOut)
	counter(descWrites, t.Writes)
	c.latency(ch)
	counter(descReloads, s.reloads[0].Load(), "applied")
	counter(descReloads, s.reloads[1].Load(), "refused")
	ready := 0.0
	if s.ready() {
		ready = 1
	}
	gauge(descReady, ready)
	if s.broker != nil {
		up := 0.0
		if s.BrokerUp() {
			up = 1
		}
		gauge(descBrokerUp, up)
		counter(descBrokerGaps, n.Gaps)
	}
}

// handshakeFailures merges the upgrader's refusals with the transport's.
func (s *Server) handshakeFailures(t transportStats) map[string]uint64 {
	m := map[string]uint64{
		"header_too_large":  t.RejectedHeaderTooLarge,
		"not_found":         t.RejectedNotFound,
		"malformed":         t.RejectedMalformed,
		"connection_limit":  t.RejectedFull,
		"handshake_timeout": t.HandshakeTimeout,
	}
	for i, name := range reasonNames {
		m[name] = s.up.refused[i].Load()
	}
	m["per_ip"] += t.RejectedPerIP // refused at accept, before a request was read
	return m
}

func (c *statsCollector) latency(ch chan<- prometheus.Metric) {
	l := c.s.ws.WriteLatency()
	buckets := make(map[float64]uint64, len(l.Bounds))
	for i, b := range l.Bounds {
		buckets[b.Seconds()] = l.Cumulative[i]
	}
	ch <- prometheus.MustNewConstHistogram(descLatency, l.Count, l.Sum.Seconds(), buckets)
}
