package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Spec is the first line the parent writes to a worker's stdin: the
// worker's share of the connections and how to open them. The token travels
// here rather than on the command line, where ps would show it.
type Spec struct {
	Worker             int           `json:"worker"`
	Target             Target        `json:"target"`
	Token              string        `json:"token"`
	First              int           `json:"first"` // global index of the first connection
	Count              int           `json:"count"`
	Channels           int           `json:"channels"`
	SourceIPs          int           `json:"source_ips"`
	ConnectRate        float64       `json:"connect_rate"` // this worker's share, conns/s; 0 = no pacing
	ConnectConcurrency int           `json:"connect_concurrency"`
	ConnectTimeout     time.Duration `json:"connect_timeout"`
	HandshakeTimeout   time.Duration `json:"handshake_timeout"`
	ReadBuffer         int           `json:"read_buffer"`
	Lifetime           time.Duration `json:"lifetime"` // the worker stops by itself after this
	ProgressEvery      time.Duration `json:"progress_every"`
	Deflate            bool          `json:"deflate"`  // offer permessage-deflate, inflate what comes compressed
	Protocol           string        `json:"protocol"` // ProtocolFanoutd (also when empty) or ProtocolCentrifugo
	// SubscribeInURL subscribes at connect time (Config.SubscribeInURL).
	SubscribeInURL bool `json:"subscribe_in_url,omitempty"`
}

// withDefaults fills what an older or hand-written Spec leaves out.
func (s Spec) withDefaults() Spec {
	if s.Lifetime <= 0 {
		s.Lifetime = time.Hour
	}
	if s.ConnectTimeout <= 0 {
		s.ConnectTimeout = 2 * time.Minute
	}
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = 10 * time.Second
	}
	if s.ReadBuffer < 256 {
		s.ReadBuffer = 1024
	}
	if s.ConnectConcurrency <= 0 {
		s.ConnectConcurrency = 128
	}
	if s.ProgressEvery <= 0 {
		s.ProgressEvery = 250 * time.Millisecond
	}
	if s.SourceIPs <= 0 {
		s.SourceIPs = 1
	}
	if s.Channels <= 0 {
		s.Channels = 1
	}
	return s
}

// stopLine is what the parent writes to end a worker's measurement.
const stopLine = "stop"

// Message types a worker writes to stdout, one JSON object per line.
const (
	msgProgress = "progress" // periodic counters
	msgReady    = "ready"    // every connection is subscribed or failed
	msgFinal    = "final"    // last line: counters and histogram
)

// Message is one line from a worker. Counters are cumulative, so the parent
// keeps only the latest line of each worker.
type Message struct {
	Type        string `json:"type"`
	Worker      int    `json:"worker"`
	Connected   int64  `json:"connected"`
	Failed      int64  `json:"failed"`
	Received    int64  `json:"received"`
	Disconnects int64  `json:"disconnects"`

	// ready
	FailedIdx     []int            `json:"failed_idx,omitempty"` // global indices of connections that never got ready
	ConnectErrors map[string]int64 `json:"connect_errors,omitempty"`
	FirstDialNs   int64            `json:"first_dial_ns,omitempty"`
	LastReadyNs   int64            `json:"last_ready_ns,omitempty"`
	RSSBytes      int64            `json:"rss_bytes,omitempty"`

	// ready and final
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`

	// final
	OutOfOrder        int64            `json:"out_of_order,omitempty"`
	OtherFrames       int64            `json:"other_frames,omitempty"`
	Pongs             int64            `json:"pongs,omitempty"`
	DisconnectReasons map[string]int64 `json:"disconnect_reasons,omitempty"`
	Latency           *Snapshot        `json:"latency,omitempty"`
	Error             string           `json:"error,omitempty"`
}

// lineWriter writes JSON lines from several goroutines without
// interleaving them.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{enc: json.NewEncoder(w)} }

func (l *lineWriter) write(v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.enc.Encode(v); err != nil {
		return fmt.Errorf("write line: %w", err)
	}
	return nil
}
