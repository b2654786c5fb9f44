package sse

import (
	"time"

	"github.com/fanoutd/fanoutd/daemon"
)

// Options configure a Handler. Zero values mean the documented defaults,
// which are config.SSE's and config.Limits' own.
type Options struct {
	// Node is the core the streams are sessions of. Required.
	Node *daemon.Node
	// Admitter decides on each stream and on CORS. Required.
	Admitter Admitter
	// Heartbeat is how often an idle stream gets a comment line, so that
	// proxies keep it open and a vanished client is noticed
	// (sse.heartbeat). Default 15s.
	Heartbeat time.Duration
	// QueueBytes caps the bytes queued for one stream; a frame over it
	// closes the stream as slow, as limits.write_queue_bytes does a
	// WebSocket. Default 1 MiB.
	QueueBytes int
	// MaxStreams caps the open streams, each of which holds a goroutine;
	// over it a request is answered 503 (sse.max_streams). Default 1000.
	MaxStreams int
}

func (o Options) withDefaults() Options {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 1 << 20
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 1000
	}
	return o
}
