package loadgen

import (
	"encoding/json"
	"io"
)

// Report is the outcome of one run; its JSON form is what --json prints
// and what scripts compare between daemon versions.
type Report struct {
	Label        string  `json:"label"`
	Conns        int     `json:"conns"`
	Channels     int     `json:"channels"`
	Procs        int     `json:"procs"`
	SourceIPs    int     `json:"source_ips"`
	Rate         float64 `json:"rate"`
	Batch        int     `json:"batch"`
	PayloadBytes int     `json:"payload_bytes"`
	PayloadStyle string  `json:"payload_style"`
	Deflate      bool    `json:"deflate"` // the subscribers offered permessage-deflate
	// SubscribeInURL: the connections subscribed at connect time (channels
	// in the upgrade URL; Centrifugo: connect subs), not with commands.
	// Absent from the JSON when false, so reports without it are unchanged.
	SubscribeInURL  bool    `json:"subscribe_in_url,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`

	// Connection phase: from the first dial to the last "subscribed".
	Connected       int64            `json:"connected"`
	ConnectSeconds  float64          `json:"connect_seconds"`
	ConnectRate     float64          `json:"connect_rate"`
	ConnectFailures int64            `json:"connect_failures"`
	ConnectErrors   map[string]int64 `json:"connect_errors,omitempty"`

	// Publishing: events, not requests.
	TargetEvents   int64            `json:"target_events"`
	Published      int64            `json:"published"`
	Accepted       int64            `json:"accepted"`
	PublishErrors  map[string]int64 `json:"publish_errors,omitempty"`
	PublishSeconds float64          `json:"publish_seconds"`
	PublishRate    float64          `json:"publish_rate"`
	DrainSeconds   float64          `json:"drain_seconds"`

	// Deliveries: Expected counts, for every accepted event, the ready
	// subscribers of its channel; Lost = Expected - Received (negative if
	// a failed request was published after all).
	Expected          int64            `json:"expected"`
	Received          int64            `json:"received"`
	Lost              int64            `json:"lost"`
	Disconnects       int64            `json:"disconnects"`
	DisconnectReasons map[string]int64 `json:"disconnect_reasons,omitempty"`
	OutOfOrder        int64            `json:"out_of_order"`
	Latency           Latency          `json:"latency_ms"`
	DeliveryRate      float64          `json:"delivery_rate"` // received / publish_seconds

	Daemon              DaemonReport    `json:"daemon"`
	GeneratorCPUSeconds float64         `json:"generator_cpu_seconds"`
	Generator           GeneratorReport `json:"generator"`

	Interrupted bool     `json:"interrupted,omitempty"`
	Errors      []string `json:"errors,omitempty"`
}

// Latency is publish-to-receive time in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// DaemonReport is the daemon's cost, from /proc/PID and /v1/stats.
// CPUSeconds covers the publish window plus the drain.
type DaemonReport struct {
	PID                       int     `json:"pid"`
	RSSBeforeBytes            int64   `json:"rss_before_bytes"`
	RSSAfterConnectBytes      int64   `json:"rss_after_connect_bytes"`
	RSSPerConnBytes           int64   `json:"rss_per_conn_bytes"`     // (after - before) / connected
	RSSEndBytes               int64   `json:"rss_end_bytes"`          // at the end of the window, still connected
	RSSPerConnEndBytes        int64   `json:"rss_per_conn_end_bytes"` // (end - before) / connected
	Threads                   int     `json:"threads"`
	Goroutines                int     `json:"goroutines"`
	Connections               int64   `json:"connections"`
	CPUSeconds                float64 `json:"cpu_seconds"`
	CPUSecondsPer1kDeliveries float64 `json:"cpu_seconds_per_1k_deliveries"`
	CPUSecondsPer1mDeliveries float64 `json:"cpu_seconds_per_1m_deliveries"`
	Delivered                 int64   `json:"delivered"` // /v1/stats "delivered" over the window
	// BytesOutPerDelivery is the transport's bytes written over the window
	// per delivery: frames on the wire, compressed or not (pongs and
	// handshakes are outside the window).
	BytesOutPerDelivery float64 `json:"bytes_out_per_delivery"`
	// CompressedEvents are the events the daemon compressed in the window
	// (once each, however many subscribers got them).
	CompressedEvents int64 `json:"compressed_events"`
	// DeflateConns are the connections that negotiated permessage-deflate.
	DeflateConns int64  `json:"deflate_conns"`
	ProcError    string `json:"proc_error,omitempty"`
}

// GeneratorReport is the generator's own cost, so a reader can tell
// whether the generator, not the daemon, was the bottleneck.
type GeneratorReport struct {
	CPUSeconds          float64 `json:"cpu_seconds"`           // whole run, parent and workers
	WindowCPUSeconds    float64 `json:"window_cpu_seconds"`    // publish window and drain
	PublisherCPUSeconds float64 `json:"publisher_cpu_seconds"` // the parent's share of the window
	WorkerRSSBytes      int64   `json:"worker_rss_bytes"`      // all workers, once connected
	WorkerRSSPerConn    int64   `json:"worker_rss_per_conn_bytes"`
	WorkerPeakRSSBytes  int64   `json:"worker_peak_rss_bytes"`
	Pongs               int64   `json:"pongs"`
	UnrecognisedFrames  int64   `json:"unrecognised_frames"`
	PublishRequestFails int64   `json:"publish_request_failures"`
}

// OK reports a clean run: everything connected, the whole target
// published and accepted, nothing lost, nobody disconnected, no errors, not
// interrupted.
func (r *Report) OK() bool {
	return r.ConnectFailures == 0 && r.Lost == 0 && r.Disconnects == 0 && r.OutOfOrder == 0 &&
		!r.FellBehind() && r.Accepted == r.Published && r.Expected > 0 && !r.Interrupted && len(r.Errors) == 0
}

// FellBehind reports that the publisher could not send the target load in
// the window (one request at a time: each must take under batch/rate
// seconds); the figures then describe a lighter load than asked for.
func (r *Report) FellBehind() bool { return r.Published < r.TargetEvents }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func latencyOf(h *Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: h.Mean() / 1000,
	}
}
