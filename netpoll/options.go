package netpoll

import (
	"runtime"
	"time"

	"go.uber.org/zap"
)

// Options configure a Server. The zero value of each field means the
// documented default, applied once by NewServer.
type Options struct {
	// Handler decides on each upgrade and returns the connection's Session.
	// Required.
	Handler Handler
	// Logger receives transport logs; nil means no logs.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time

	// Path is the request path that upgrades to WebSocket. Default "/ws".
	Path string
	// ExtraPaths are further request paths that upgrade, such as a
	// conformance echo route; the Handler tells them apart by
	// Request.Path. Subprotocol is selected on them too when offered.
	// Default none.
	ExtraPaths []string
	// Subprotocol is echoed when the client offers it. Default "fanout.v1".
	Subprotocol string
	// Workers is the size of the worker pool. Default 2×GOMAXPROCS, at least 4.
	Workers int
	// MaxConns caps connections, handshakes included, and the connections
	// handed to net/http until net/http closes them: every socket accepted
	// counts, whatever it becomes. Over it a new connection is answered 503
	// and closed. Default 10,000.
	MaxConns int
	// MaxConnsPerIP caps the connections of one client address, counted as
	// MaxConns counts them (handshakes, WebSockets and handed-off HTTP);
	// over it a new connection is answered 429 and closed before its
	// request is read. 0, the default, is no cap (behind a proxy every
	// client shares its address).
	MaxConnsPerIP int
	// MaxHTTPConns caps the connections handed to net/http at once; past it
	// a request for another path is answered 503 and closed. It keeps the
	// rest of MaxConns for upgrades, so idle HTTP clients (which carry no
	// token and cost a goroutine each) can never take every slot.
	// Default three quarters of MaxConns.
	MaxHTTPConns int

	// HandshakeTimeout bounds the whole upgrade. Default 5 s.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes caps the request head; over it: 431. Default 16 KiB.
	MaxHeaderBytes int
	// MaxMessageSize caps an inbound message, fragments added up; over it
	// the connection is closed with CloseTooBig. Default 64 KiB.
	MaxMessageSize int
	// MaxFragments caps the frames of one inbound message; over it:
	// ClosePolicyViolation. Default 64.
	MaxFragments int
	// MessageTimeout bounds how long an inbound message may take from its
	// first byte to its last: a frame still arriving or a fragmented
	// message waiting for its final frame. Past it the connection is closed
	// with ClosePolicyViolation (any byte counts as alive for the
	// heartbeat, so without it a client could hold a partial frame's buffer
	// forever). The sweeper checks it. Default 10 s.
	MessageTimeout time.Duration
	// WriteQueueBytes caps the bytes waiting in one connection's queue; a
	// frame that does not fit closes the connection with CloseSlowConsumer,
	// or makes room under a QueueEvent policy. Frames a write is taking at
	// the moment do not count, up to as much again. Default 1 MiB; at most
	// 256 MiB (a larger value counts as 256 MiB), which keeps a queue's
	// counts in 32 bits.
	WriteQueueBytes int
	// PingInterval is the time between server pings. Default 30 s.
	PingInterval time.Duration
	// PongTimeout: a connection that sent nothing for this long after a ping
	// is closed with CloseHeartbeat. Default 10 s.
	PongTimeout time.Duration
	// CloseTimeout bounds the closing handshake: how long a closing
	// connection may take to flush its close frame and answer it. Default 3 s.
	CloseTimeout time.Duration
	// ReadBudget is how many bytes one worker turn reads from a connection
	// before moving on to others. Default 64 KiB.
	ReadBudget int
	// FlushDelay is how long a connection's event frames may wait so that
	// one writev carries several: a connection not flushed within
	// FlushDelay is flushed at once, one flushed more recently is flushed
	// when FlushDelay has passed since. It applies to Flush (published
	// events); Send, replies, pings and close frames never wait. It trades
	// at most FlushDelay of latency for fewer system calls under load
	// (see coalescer). 0, the default, flushes at once.
	FlushDelay time.Duration
	// LatencySample is how many writes that carry event frames make one
	// sample of the publish→write latency (WriteLatency): reading the clock
	// for every write would cost more than the histogram is worth. Default
	// 8; 1 samples every write.
	LatencySample int
	// Deflate accepts permessage-deflate offers (RFC 7692) with no context
	// takeover either way (see deflate.go): the connection may then be sent
	// frames made by a Compressor, and its compressed messages are inflated
	// within MaxMessageSize. Off by default: a transport that never sends
	// compressed frames gains nothing from it.
	Deflate bool
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Path == "" {
		o.Path = "/ws"
	}
	if o.Subprotocol == "" {
		o.Subprotocol = "fanout.v1"
	}
	def(&o.Workers, max(4, 2*runtime.GOMAXPROCS(0)))
	def(&o.MaxConns, 10000)
	def(&o.MaxHTTPConns, max(1, o.MaxConns*3/4))
	o.MaxHTTPConns = min(o.MaxHTTPConns, o.MaxConns)
	def(&o.MaxHeaderBytes, 16<<10)
	def(&o.MaxMessageSize, 64<<10)
	def(&o.MaxFragments, 64)
	def(&o.WriteQueueBytes, 1<<20)
	o.WriteQueueBytes = min(o.WriteQueueBytes, maxQueueBound)
	def(&o.ReadBudget, 64<<10)
	def(&o.LatencySample, 8)
	dur(&o.HandshakeTimeout, 5*time.Second)
	dur(&o.MessageTimeout, 10*time.Second)
	dur(&o.PingInterval, 30*time.Second)
	dur(&o.PongTimeout, 10*time.Second)
	dur(&o.CloseTimeout, 3*time.Second)
	return o
}

// sweepEvery is how often the sweeper looks at every connection: a quarter of
// the shortest deadline it enforces, within [5 ms, 1 s].
func (o Options) sweepEvery() time.Duration {
	d := min(o.PingInterval, o.PongTimeout, o.HandshakeTimeout, o.CloseTimeout, o.MessageTimeout) / 4
	return min(max(d, 5*time.Millisecond), time.Second)
}
