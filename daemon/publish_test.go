package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var eventCases = []struct {
	name      string
	opts      Options
	channel   string
	eventType string
	payload   string
	nilBody   bool  // payload is nil, not empty
	wantErr   error // nil: accepted
}{
	{name: "valid", channel: "news", eventType: "story.updated", payload: `{"a":1}`},
	{name: "valid nil payload", channel: "news", eventType: "tick", nilBody: true},
	{name: "valid empty payload", channel: "news", eventType: "tick", payload: ""},
	{name: "valid scalar payload", channel: "news", eventType: "tick", payload: `42`},
	{name: "valid null payload", channel: "news", eventType: "tick", payload: `null`},
	{name: "type with all allowed chars", channel: "news", eventType: "Az09_-.:"},
	{name: "longest type", channel: "news", eventType: strings.Repeat("t", 64)},
	{name: "longest channel", channel: strings.Repeat("c", 255), eventType: "t"},
	{name: "configured channel length", opts: Options{MaxChannelLength: 8}, channel: "12345678", eventType: "t"},
	{name: "payload at limit", opts: Options{MaxPayloadBytes: 16}, channel: "news", eventType: "t", payload: `"` + strings.Repeat("x", 14) + `"`},

	{name: "reserved welcome", channel: "news", eventType: "welcome", wantErr: ErrReservedType},
	{name: "reserved error", channel: "news", eventType: "error", wantErr: ErrReservedType},
	{name: "reserved pong", channel: "news", eventType: "pong", wantErr: ErrReservedType},
	{name: "reserved subscribed", channel: "news", eventType: "subscribed", wantErr: ErrReservedType},
	{name: "reserved unsubscribed", channel: "news", eventType: "unsubscribed", wantErr: ErrReservedType},
	{name: "reserved ping", channel: "news", eventType: "ping", wantErr: ErrReservedType},

	{name: "empty type", channel: "news", eventType: "", wantErr: ErrInvalidType},
	{name: "type with space", channel: "news", eventType: "a b", wantErr: ErrInvalidType},
	{name: "type with slash", channel: "news", eventType: "a/b", wantErr: ErrInvalidType},
	{name: "type with at", channel: "news", eventType: "a@b", wantErr: ErrInvalidType},
	{name: "type with quote", channel: "news", eventType: `a"b`, wantErr: ErrInvalidType},
	{name: "type non-ASCII", channel: "news", eventType: "ä", wantErr: ErrInvalidType},
	{name: "type too long", channel: "news", eventType: strings.Repeat("t", 65), wantErr: ErrInvalidType},

	{name: "empty channel", channel: "", eventType: "t", wantErr: ErrInvalidChannel},
	{name: "channel with space", channel: "a b", eventType: "t", wantErr: ErrInvalidChannel},
	{name: "channel with star", channel: "news*", eventType: "t", wantErr: ErrInvalidChannel},
	{name: "channel too long", channel: strings.Repeat("c", 256), eventType: "t", wantErr: ErrInvalidChannel},
	{name: "channel over configured length", opts: Options{MaxChannelLength: 8}, channel: "123456789", eventType: "t", wantErr: ErrInvalidChannel},

	{name: "payload not JSON", channel: "news", eventType: "t", payload: `{"a":`, wantErr: ErrInvalidPayload},
	{name: "payload two values", channel: "news", eventType: "t", payload: `{} {}`, wantErr: ErrInvalidPayload},
	{name: "payload only spaces", channel: "news", eventType: "t", payload: `  `, wantErr: ErrInvalidPayload},
	{name: "payload bare word", channel: "news", eventType: "t", payload: `hello`, wantErr: ErrInvalidPayload},
	// A text frame must be UTF-8; one that is not makes every subscriber's
	// browser fail its connection.
	{name: "payload not UTF-8", channel: "news", eventType: "t", payload: "\"\xff\"", wantErr: ErrInvalidPayload},
	{name: "payload over limit", opts: Options{MaxPayloadBytes: 16}, channel: "news", eventType: "t", payload: `"` + strings.Repeat("x", 15) + `"`, wantErr: ErrInvalidPayload},
	{name: "payload over default limit", channel: "news", eventType: "t", payload: `"` + strings.Repeat("x", 1<<20) + `"`, wantErr: ErrInvalidPayload},
}

func TestCheckEventAndPublishValidate(t *testing.T) {
	for _, tt := range eventCases {
		t.Run(tt.name, func(t *testing.T) {
			n := New(tt.opts)
			var payload []byte
			if !tt.nilBody {
				payload = []byte(tt.payload)
			}
			for _, call := range []struct {
				name string
				f    func() error
			}{
				{"CheckEvent", func() error { return n.CheckEvent(tt.channel, tt.eventType, payload) }},
				{"Publish", func() error { return n.Publish(context.Background(), tt.channel, tt.eventType, payload) }},
			} {
				err := call.f()
				if tt.wantErr == nil {
					if err != nil {
						t.Errorf("%s: %v, want nil", call.name, err)
					}
					continue
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: %v, want %v", call.name, err, tt.wantErr)
				}
				var ie *InputError
				if !errors.As(err, &ie) || !ie.Invalid() {
					t.Errorf("%s: %v (%T) is not an *InputError with Invalid()", call.name, err, err)
				}
			}
			wantPublished := uint64(1)
			if tt.wantErr != nil {
				wantPublished = 0
			}
			if got := n.Stats().Published; got != wantPublished {
				t.Errorf("Stats().Published = %d, want %d", got, wantPublished)
			}
		})
	}
}

func TestEncodedEvent(t *testing.T) {
	tests := []struct {
		name, channel, eventType, payload, want string
	}{
		{"object payload", "news", "story.updated", `{"id":7,"title":"x"}`,
			`{"type":"story.updated","channel":"news",@,"payload":{"id":7,"title":"x"}}`},
		{"no payload", "news", "tick", ``,
			`{"type":"tick","channel":"news",@}`},
		{"payload kept verbatim", "news", "t", " [1, 2,\n3] ",
			`{"type":"t","channel":"news",@,"payload": [1, 2,` + "\n" + `3] }`},
		{"project channel", "project:abc-123", "story.status.changed", `{"status":"done"}`,
			`{"type":"story.status.changed","channel":"project:abc-123","projectId":"abc-123",@,"payload":{"status":"done"}}`},
		{"project channel without payload", "project:p", "x", ``,
			`{"type":"x","channel":"project:p","projectId":"p",@}`},
		{"empty project id", "project:", "x", ``,
			`{"type":"x","channel":"project:",@}`},
		{"punctuation in channel", "a_b-c.d:e@f/g=h+i,j~k!l$m|n", "t", `1`,
			`{"type":"t","channel":"a_b-c.d:e@f/g=h+i,j~k!l$m|n",@,"payload":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{})
			s, ft := connect(t, n, "u1", "*")
			defer s.Closed(1000)
			epoch := subscribeAt(t, s, ft, tt.channel)
			if err := n.Publish(context.Background(), tt.channel, tt.eventType, []byte(tt.payload)); err != nil {
				t.Fatal(err)
			}
			raw := ft.raw()
			if len(raw) != 1 {
				t.Fatalf("got %d messages, want 1", len(raw))
			}
			// @ is the position: the first event of the channel's epoch.
			want := strings.Replace(tt.want, ",@", `,"offset":1,"epoch":"`+epoch+`"`, 1)
			if got := string(raw[0]); got != want {
				t.Errorf("event =\n%s\nwant\n%s", got, want)
			}
			if !json.Valid(raw[0]) {
				t.Errorf("event is not valid JSON")
			}
		})
	}
}

// The encoded event goes through Options.Frame, and the framed bytes are
// what every subscriber's Send gets: one slice, shared.
func TestPublishFramesOnceForAllSubscribers(t *testing.T) {
	var frames atomic.Int64
	n := New(Options{Frame: func(m []byte) []byte {
		frames.Add(1)
		return append([]byte("F|"), m...)
	}})
	const subscribers = 100
	fts := make([]*fakeTransport, subscribers)
	for i := range fts {
		fts[i] = &fakeTransport{}
		s := n.Connect(fts[i], Identity{Subject: fmt.Sprint("u", i), Channels: []string{"*"}})
		defer s.Closed(1000)
		s.Message(false, []byte(`{"action":"subscribe","channel":"news"}`))
		fts[i].reset()
	}

	frames.Store(0)
	epoch := n.hub.lookup("news").epoch
	const events = 5
	for i := range events {
		if err := n.Publish(context.Background(), "news", "tick", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := frames.Load(); got != events {
		t.Errorf("Frame called %d times for %d events to %d subscribers, want %d", got, events, subscribers, events)
	}
	first := fts[0].raw()
	for i, ft := range fts {
		raw := ft.raw()
		if len(raw) != events {
			t.Fatalf("subscriber %d got %d events, want %d", i, len(raw), events)
		}
		for j, m := range raw {
			if want := fmt.Sprintf(`F|{"type":"tick","channel":"news","offset":%d,"epoch":"%s","payload":%d}`, j+1, epoch, j); string(m) != want {
				t.Errorf("subscriber %d event %d = %s, want %s", i, j, m, want)
			}
			if &m[0] != &first[j][0] {
				t.Errorf("subscriber %d event %d is a separate copy, want the shared frame", i, j)
			}
		}
	}
	if st := n.Stats(); st.Published != events || st.Delivered != events*subscribers || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want %d published, %d delivered, 0 dropped", st, events, events*subscribers)
	}
}

func TestPublishWithoutSubscribers(t *testing.T) {
	var frames atomic.Int64
	n := New(Options{Frame: func(m []byte) []byte { frames.Add(1); return append([]byte(nil), m...) }})
	s, ft := connect(t, n, "u1", "*")
	defer s.Closed(1000)
	subscribe(t, s, ft, "other")
	frames.Store(0)

	for range 3 {
		if err := n.Publish(context.Background(), "nobody", "tick", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.Stats(); st.Published != 3 || st.Delivered != 0 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want 3 published, 0 delivered, 0 dropped", st)
	}
	if got := frames.Load(); got != 0 {
		t.Errorf("Frame called %d times for a channel nobody listens to, want 0", got)
	}
	if msgs := ft.take(t); len(msgs) != 0 {
		t.Errorf("subscriber of another channel got %v", msgs)
	}
	// A channel everybody left is as good as none.
	roundTrip(t, s, ft, `{"action":"unsubscribe","channel":"other"}`)
	if err := n.Publish(context.Background(), "other", "tick", nil); err != nil {
		t.Fatal(err)
	}
	if st := n.Stats(); st.Published != 4 || st.Delivered != 0 || st.Channels != 0 {
		t.Errorf("Stats = %+v, want 4 published, 0 delivered, 0 channels", st)
	}
}

func TestPublishCountsDropped(t *testing.T) {
	tests := []struct {
		name string
		full []bool // per subscriber
	}{
		{"one of three full", []bool{false, true, false}},
		{"all full", []bool{true, true}},
		{"first full", []bool{true, false}},
		{"none full", []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{})
			fts := make([]*fakeTransport, len(tt.full))
			var wantDelivered, wantDropped uint64
			for i, full := range tt.full {
				s, ft := connect(t, n, fmt.Sprint("u", i), "*")
				defer s.Closed(1000)
				subscribe(t, s, ft, "news")
				ft.setFull(full)
				fts[i] = ft
				if full {
					wantDropped++
				} else {
					wantDelivered++
				}
			}
			if err := n.Publish(context.Background(), "news", "tick", nil); err != nil {
				t.Fatal(err)
			}
			for i, ft := range fts {
				wantMsgs := 1
				if tt.full[i] {
					wantMsgs = 0
				}
				if got := len(ft.take(t)); got != wantMsgs {
					t.Errorf("subscriber %d (full=%v) got %d messages, want %d", i, tt.full[i], got, wantMsgs)
				}
			}
			if st := n.Stats(); st.Published != 1 || st.Delivered != wantDelivered || st.Dropped != wantDropped {
				t.Errorf("Stats = %+v, want 1 published, %d delivered, %d dropped", st, wantDelivered, wantDropped)
			}
		})
	}
}

// seqEvent is the payload of the ordering tests.
type seqEvent struct {
	Payload struct {
		P int `json:"p"`
		I int `json:"i"`
	} `json:"payload"`
}

func TestPublishPerChannelOrder(t *testing.T) {
	const publishers, perPublisher = 2, 1000
	n := New(Options{})
	s, ft := connect(t, n, "u1", "*")
	defer s.Closed(1000)
	subscribe(t, s, ft, "news")

	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				payload := fmt.Appendf(nil, `{"p":%d,"i":%d}`, p, i)
				if err := n.Publish(context.Background(), "news", "seq", payload); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	raw := ft.raw()
	if len(raw) != publishers*perPublisher {
		t.Fatalf("got %d events, want %d", len(raw), publishers*perPublisher)
	}
	next := make([]int, publishers)
	for k, m := range raw {
		var e seqEvent
		if err := json.Unmarshal(m, &e); err != nil {
			t.Fatalf("event %d %q: %v", k, m, err)
		}
		p, i := e.Payload.P, e.Payload.I
		if p < 0 || p >= publishers || i != next[p] {
			t.Fatalf("event %d is publisher %d's #%d, want its #%d", k, p, i, next[p])
		}
		next[p]++
	}
}

// Sessions subscribe, unsubscribe and publish concurrently; afterwards every
// event a session got must have arrived while it was subscribed (between its
// "subscribed" and "unsubscribed" replies), the counters must agree with what
// the transports saw, and closing everyone must leave nothing behind.
func TestConcurrentSubscribePublish(t *testing.T) {
	const workers, iterations, channels = 8, 300, 4
	n := New(Options{CommandsPerSecond: 1 << 20}) // the test floods commands on purpose
	sessions := make([]*Session, workers)
	fts := make([]*fakeTransport, workers)
	for w := range workers {
		sessions[w], fts[w] = connect(t, n, fmt.Sprint("u", w), "*")
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := sessions[w]
		wg.Go(func() {
			for i := range iterations {
				ch := fmt.Sprint("c", (w+i)%channels)
				switch i % 3 {
				case 0:
					s.Message(false, []byte(`{"action":"subscribe","channel":"`+ch+`"}`))
				case 1:
					s.Message(false, []byte(`{"action":"unsubscribe","channel":"`+fmt.Sprint("c", (w+i+1)%channels)+`"}`))
				}
				if err := n.Publish(context.Background(), ch, "ev", []byte(fmt.Sprint(i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var received uint64
	for w, ft := range fts {
		subscribed := map[string]bool{}
		for k, m := range ft.messages(t) {
			ch := m.str(t, "channel")
			switch typ := m.str(t, "type"); typ {
			case "subscribed":
				subscribed[ch] = true
			case "unsubscribed":
				delete(subscribed, ch)
			case "ev":
				received++
				if !subscribed[ch] {
					t.Errorf("session %d message %d: event on %s while not subscribed", w, k, ch)
				}
			default:
				t.Errorf("session %d message %d: unexpected %v", w, k, m)
			}
		}
	}
	st := n.Stats()
	if st.Published != workers*iterations || st.Delivered != received || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want %d published, %d delivered (as received), 0 dropped",
			st, workers*iterations, received)
	}
	if received == 0 {
		t.Errorf("no event was delivered; the test exercised nothing")
	}

	for _, s := range sessions {
		s.Closed(1000)
	}
	if st := n.Stats(); st.Connections != 0 || st.Subscriptions != 0 || st.Channels != 0 {
		t.Errorf("after all Closed Stats = %+v, want 0 connections, subscriptions and channels", st)
	}
}

// Two Nodes in one process share nothing.
func TestNodesAreIndependent(t *testing.T) {
	a, b := New(Options{}), New(Options{})
	sa, fa := connect(t, a, "u", "*")
	defer sa.Closed(1000)
	sb, fb := connect(t, b, "u", "*")
	defer sb.Closed(1000)
	subscribe(t, sa, fa, "news")
	subscribe(t, sb, fb, "news")
	if err := a.Publish(context.Background(), "news", "tick", nil); err != nil {
		t.Fatal(err)
	}
	if len(fa.take(t)) != 1 || len(fb.take(t)) != 0 {
		t.Errorf("a publish on one node reached the other")
	}
	if sa.ID() == sb.ID() {
		t.Errorf("two nodes gave out the same connection id %q", sa.ID())
	}
	if st := b.Stats(); st.Published != 0 || st.Subscriptions != 1 {
		t.Errorf("node b Stats = %+v, want 0 published, 1 subscription", st)
	}
}
