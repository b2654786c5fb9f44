package ipc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// DefaultStreamWindow is StreamOptions.Window's default: events sent and
// not yet acknowledged before Send blocks.
const DefaultStreamWindow = 4096

// StreamOptions configures Client.Stream. The zero value is a window of
// DefaultStreamWindow and no per-ack callback.
type StreamOptions struct {
	// Window caps the events sent but not yet acknowledged; Send blocks
	// while it is full, which is the stream's backpressure. 0 means
	// DefaultStreamWindow.
	Window int

	// OnAck, when set, is called with every ack, in the order the events
	// were sent, from the stream's reading goroutine: it must not block
	// for long, and must not call Send (Send may be waiting for it).
	OnAck func(StreamAck)
}

// StreamAck is the daemon's answer to one event of a stream. Index is the
// event's 0-based number in the stream (what Send returned). Status is 0
// when the event was published (Position says where; Duplicate for a
// repeated idempotency key), else the HTTP status /v1/publish would have
// given it (400, 413, 503, 500) with Error saying why.
type StreamAck struct {
	Index  int64  `json:"index"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	Position
}

// StreamError is what Stream.Close returns when events were refused: the
// count and the first refusal.
type StreamError struct {
	Failed int
	First  StreamAck
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("ipc: %d events of the stream refused; first: index %d: %d %s",
		e.Failed, e.First.Index, e.First.Status, e.First.Error)
}

// Stream is a persistent publish stream (POST /v1/publish/stream): events
// are written as NDJSON without waiting for answers, and the daemon acks
// each in order. Send may be called from several goroutines (the stream's
// order is the order Send calls take the lock); Close once, when done.
// Lines are written by a goroutine of the stream's own that sends
// everything queued since its last write in one chunk, so a fast publisher
// gets large writes and a slow one gets each event out at once.
type Stream struct {
	window chan struct{} // a token per unacknowledged event
	onAck  func(StreamAck)
	pw     *io.PipeWriter
	resp   *http.Response

	mu      sync.Mutex
	cond    *sync.Cond // signals the writer: queued data or closing
	queued  []byte     // lines not yet handed to the writer
	next    int64      // Index of the next Send
	closing bool
	werr    error // the writer's error, if it failed

	readDone chan struct{}
	acked    int64 // events acked; set by the reader, read after readDone
	ackedNow atomic.Int64
	failed   int
	first    StreamAck
	rerr     error
}

// Stream opens a publish stream. ctx bounds the whole stream: cancelling it
// ends the stream, and events not yet acknowledged may or may not have been
// published (give them idempotency keys to resend safely).
func (c *Client) Stream(ctx context.Context, opts StreamOptions) (*Stream, error) {
	window := opts.Window
	if window <= 0 {
		window = DefaultStreamWindow
	}
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/publish/stream", pr)
	if err != nil {
		return nil, fmt.Errorf("ipc: building request: %w", err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/x-ndjson")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	s := &Stream{window: make(chan struct{}, window), onAck: opts.OnAck, pw: pw, readDone: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	go s.writeLoop()
	resp, err := c.hc.Do(req)
	if err != nil {
		s.abort(err)
		return nil, fmt.Errorf("ipc: POST /v1/publish/stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
		s.abort(errors.New("refused"))
		return nil, newAPIError(resp.StatusCode, data)
	}
	s.resp = resp
	go s.readLoop()
	return s, nil
}

// Send queues one event and returns its index in the stream. It blocks
// while the window is full, until ctx ends. Its error is about sending
// (the stream broke, or ctx ended, or the payload is not JSON); refusals
// of the event itself come back in its ack.
func (s *Stream) Send(ctx context.Context, ev Event) (int64, error) {
	if len(ev.Payload) > 0 && !json.Valid(ev.Payload) {
		return 0, ErrInvalidPayload
	}
	select {
	case s.window <- struct{}{}:
	case <-s.readDone:
		return 0, s.brokenErr()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.werr != nil {
		<-s.window
		return 0, s.brokenLocked()
	}
	s.queued = appendEventLine(s.queued, &ev)
	i := s.next
	s.next++
	s.cond.Signal()
	return i, nil
}

// Close ends the stream's body and waits for every ack. It returns a
// *StreamError when any event was refused, or the error that broke the
// stream (then events from Acked() on may be unacknowledged).
func (s *Stream) Close() error {
	s.mu.Lock()
	s.closing = true
	s.cond.Signal()
	s.mu.Unlock()
	<-s.readDone
	_ = s.resp.Body.Close()
	if s.rerr != nil {
		return s.rerr
	}
	if s.failed > 0 {
		return &StreamError{Failed: s.failed, First: s.first}
	}
	return nil
}

// Acked returns how many events have been acknowledged; meaningful after
// Close.
func (s *Stream) Acked() int64 {
	<-s.readDone
	return s.acked
}

// ackedSoFar is how many acks the reader has seen, for tests that wait.
func (s *Stream) ackedSoFar() int64 { return s.ackedNow.Load() }

// writeLoop hands queued lines to the request body, one chunk per wake-up.
func (s *Stream) writeLoop() {
	var buf []byte
	for {
		s.mu.Lock()
		for len(s.queued) == 0 && !s.closing && s.werr == nil {
			s.cond.Wait()
		}
		buf, s.queued = s.queued, buf[:0]
		closing, failed := s.closing, s.werr != nil
		s.mu.Unlock()
		if failed {
			return
		}
		if len(buf) > 0 {
			if _, err := s.pw.Write(buf); err != nil {
				s.abort(err)
				return
			}
			continue // what was queued meanwhile goes before closing
		}
		if closing {
			_ = s.pw.Close()
			return
		}
	}
}

// abort records the writer's failure and ends the request body.
func (s *Stream) abort(err error) {
	s.mu.Lock()
	if s.werr == nil {
		s.werr = err
	}
	s.cond.Signal()
	s.mu.Unlock()
	_ = s.pw.CloseWithError(err)
}

// readLoop reads the acks; each frees a window slot.
func (s *Stream) readLoop() {
	defer close(s.readDone)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		var ack StreamAck
		if err := json.Unmarshal(sc.Bytes(), &ack); err != nil {
			s.rerr = fmt.Errorf("ipc: publish stream: bad ack %q: %w", sc.Bytes(), err)
			s.abort(s.rerr)
			return
		}
		if ack.Status != 0 {
			if s.failed == 0 {
				s.first = ack
			}
			s.failed++
		}
		s.acked++
		s.ackedNow.Store(s.acked)
		if s.onAck != nil {
			s.onAck(ack)
		}
		<-s.window
	}
	s.mu.Lock()
	sent := s.next
	s.mu.Unlock()
	if s.acked < sent {
		err := sc.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		s.rerr = fmt.Errorf("ipc: publish stream ended after %d of %d acks: %w", s.acked, sent, err)
		s.abort(s.rerr)
	}
}

func (s *Stream) brokenErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.brokenLocked()
}

func (s *Stream) brokenLocked() error {
	if s.werr != nil {
		return fmt.Errorf("ipc: publish stream broken: %w", s.werr)
	}
	return errors.New("ipc: publish stream closed")
}

// appendEventLine appends ev as one NDJSON line. Channel, type and key are
// quoted by appendJSONString, so the line is what json.Marshal would write.
func appendEventLine(dst []byte, ev *Event) []byte {
	dst = append(dst, `{"channel":`...)
	dst = appendJSONString(dst, ev.Channel)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, ev.Type)
	if len(ev.Payload) > 0 {
		dst = append(dst, `,"payload":`...)
		dst = appendCompact(dst, ev.Payload)
	}
	if ev.IdempotencyKey != "" {
		dst = append(dst, `,"idempotency_key":`...)
		dst = appendJSONString(dst, ev.IdempotencyKey)
	}
	return append(dst, "}\n"...)
}

// appendCompact appends a valid JSON value with no newlines in it, so it
// stays on its line; payloads with formatting are compacted.
func appendCompact(dst []byte, v []byte) []byte {
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return append(dst, v...)
	}
	var b bytes.Buffer
	_ = json.Compact(&b, v) // v is valid: Send checked it
	return append(dst, b.Bytes()...)
}
