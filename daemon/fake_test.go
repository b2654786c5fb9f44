package daemon

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
)

// fakeTransport is the Transport seam for tests: it records every message
// the core sends and every Close call. Publish calls Send from any
// goroutine, so everything is guarded by mu.
type fakeTransport struct {
	mu       sync.Mutex
	sent     [][]byte
	closes   []closeCall
	full     bool     // Send refuses, as a closing or backed-up connection does
	pending  [][]byte // queued, not yet flushed
	dropNext int      // see QueueEventAt
}

var _ Transport = (*fakeTransport)(nil)

type closeCall struct {
	code   int
	reason string
}

func (f *fakeTransport) Send(msg []byte) bool {
	ok, first := f.Queue(msg)
	if first {
		f.Flush()
	}
	return ok
}

// Queue holds msg until Flush, as the real transport does: a core that
// forgot to flush would leave it unsent and fail the tests.
func (f *fakeTransport) Queue(msg []byte) (ok, first bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full {
		return false, false
	}
	// The slice is shared between subscribers and must not be modified;
	// keeping it (not a copy) lets a test catch a core that reuses it.
	f.pending = append(f.pending, msg)
	return true, len(f.pending) == 1
}

// QueueEventAt is Queue; with dropNext set, it reports that many dropped
// frames once, as a full transport under drop-oldest or latest would.
func (f *fakeTransport) QueueEventAt(msg []byte, _ uint64, _ int, _ int64) (ok, first bool, dropped int) {
	f.mu.Lock()
	dropped, f.dropNext = f.dropNext, 0
	f.mu.Unlock()
	ok, first = f.Queue(msg)
	return ok, first, dropped
}

func (f *fakeTransport) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, f.pending...)
	f.pending = f.pending[:0]
}

func (f *fakeTransport) Close(code int, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes = append(f.closes, closeCall{code, reason})
}

func (f *fakeTransport) setFull(full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.full = full
}

// raw returns a copy of the messages sent so far.
func (f *fakeTransport) raw() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func (f *fakeTransport) closeCalls() []closeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.closes)
}

// reset forgets the messages sent so far.
func (f *fakeTransport) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = nil
}

// messages decodes every message sent so far; each must be a JSON object.
func (f *fakeTransport) messages(t testing.TB) []wireMsg {
	t.Helper()
	raw := f.raw()
	out := make([]wireMsg, len(raw))
	for i, b := range raw {
		out[i] = decodeWire(t, b)
	}
	return out
}

// take returns the messages sent since the last take/reset and forgets them.
func (f *fakeTransport) take(t testing.TB) []wireMsg {
	t.Helper()
	msgs := f.messages(t)
	f.reset()
	return msgs
}

// only asserts that exactly one message was sent since the last take and
// returns it.
func (f *fakeTransport) only(t testing.TB) wireMsg {
	t.Helper()
	msgs := f.take(t)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1: %v", len(msgs), msgs)
	}
	return msgs[0]
}

// wireMsg is one decoded server message, its values left raw so that a test
// can tell the string id "7" from the number 7.
type wireMsg map[string]json.RawMessage

func decodeWire(t testing.TB, b []byte) wireMsg {
	t.Helper()
	var m wireMsg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("server sent a message that is not a JSON object: %q: %v", b, err)
	}
	return m
}

// str returns the string value of key, "" when absent. A present key whose
// value is not a string fails the test.
func (m wireMsg) str(t testing.TB, key string) string {
	t.Helper()
	v, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		t.Fatalf("%s = %s, want a string", key, v)
	}
	return s
}

// rawField returns key's JSON text, "" when absent.
func (m wireMsg) rawField(key string) string { return string(m[key]) }

func (m wireMsg) String() string {
	b, _ := json.Marshal(map[string]json.RawMessage(m))
	return string(b)
}

// connect opens a session with a fake transport and consumes its welcome.
func connect(t testing.TB, n *Node, sub string, channels ...string) (*Session, *fakeTransport) {
	t.Helper()
	ft := &fakeTransport{}
	s := n.Connect(ft, Identity{Subject: sub, Channels: channels})
	if w := ft.only(t); w.str(t, "type") != "welcome" {
		t.Fatalf("first message = %v, want a welcome", w)
	}
	return s, ft
}

// roundTrip sends one text message to s and returns the single reply.
func roundTrip(t testing.TB, s *Session, ft *fakeTransport, msg string) wireMsg {
	t.Helper()
	s.Message(false, []byte(msg))
	return ft.only(t)
}

// subscribe subscribes s to channel and checks the reply.
func subscribe(t testing.TB, s *Session, ft *fakeTransport, channel string) {
	t.Helper()
	r := roundTrip(t, s, ft, `{"action":"subscribe","channel":"`+channel+`"}`)
	if r.str(t, "type") != "subscribed" || r.str(t, "channel") != channel {
		t.Fatalf("subscribe %s: reply %v", channel, r)
	}
}

// subscribeAt subscribes s to channel and returns the epoch the reply
// announced.
func subscribeAt(t testing.TB, s *Session, ft *fakeTransport, channel string) string {
	t.Helper()
	r := roundTrip(t, s, ft, `{"action":"subscribe","channel":"`+channel+`"}`)
	if r.str(t, "type") != "subscribed" || r.str(t, "channel") != channel || r.str(t, "epoch") == "" {
		t.Fatalf("subscribe %s: reply %v", channel, r)
	}
	return r.str(t, "epoch")
}
