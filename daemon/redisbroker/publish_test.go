package redisbroker

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// redisReply is an error reply as go-redis returns one.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

// TestClassify: only a publish that may have run is outcome-unknown.
func TestClassify(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		unknown bool
	}{
		{"error reply", redisReply("NOAUTH Authentication required."), false},
		{"read-only replica", redisReply("READONLY You can't write against a read only replica."), false},
		{"refused dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"client closed", redis.ErrClosed, false},
		{"no free connection", errors.New(errPoolTimeout), false},
		{"read timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{"connection dropped", io.EOF, true},
		{"write broken", &net.OpError{Op: "write", Err: errors.New("broken pipe")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err)
			var u interface{ OutcomeUnknown() bool }
			got := errors.As(err, &u) && u.OutcomeUnknown()
			if got != tc.unknown {
				t.Errorf("classify(%v) = %v, outcome unknown %v, want %v", tc.err, err, got, tc.unknown)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("classify(%v) does not wrap it", tc.err)
			}
		})
	}
}

// TestLinger: a pipeline waits for more only while other publishes are
// pending, and never for a lone publish.
func TestLinger(t *testing.T) {
	cases := []struct {
		name            string
		pending, queued int
		want            int
	}{
		{"lone publish", 1, 0, 1},
		{"only the batch pending", 1, 2, 1},
		{"others queued", 3, 2, 3},
		{"others pending, none queued", 4, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &Broker{queue: make(chan *pubReq, 8)}
			b.pending.Store(int64(tc.pending))
			for range tc.queued {
				b.queue <- &pubReq{}
			}
			if got := len(b.linger([]*pubReq{{}})); got != tc.want {
				t.Errorf("linger took a batch of %d, want %d", got, tc.want)
			}
		})
	}
}

// TestOneCallPerChannel: one script call with events of several channels,
// idempotency keys repeated inside the call and from an earlier call, and
// a channel Redis refuses: each channel's events get consecutive offsets
// in call order, a repeated key is answered with its first event's
// position, and the refused channel fails alone.
func TestOneCallPerChannel(t *testing.T) {
	r := redistest.Start(t)
	do(t, r, "SET fanoutd:m:{bad} x")
	b := startBroker(t, r.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, earlier, _, err := b.Publish(ctx, "b", "t", []byte("0"), "old")
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*pubReq{
		{channel: "a", typ: "t", payload: []byte("a1"), key: "k"},
		{channel: "b", typ: "t", payload: []byte("b1")},
		{channel: "a", typ: "t", payload: []byte("a-again"), key: "k"},
		{channel: "bad", typ: "t", payload: []byte("x")},
		{channel: "a", typ: "t", payload: []byte("a2")},
		{channel: "b", typ: "t", payload: []byte("b-again"), key: "old"},
		{channel: "b", typ: "t", payload: []byte("b2")},
	}
	for _, q := range reqs {
		q.done = make(chan pubResult, 1)
	}
	b.sendBatch(ctx, reqs)
	got := make([]pubResult, len(reqs))
	for i, q := range reqs {
		got[i] = <-q.done
	}
	want := []struct {
		offset uint64
		dup    bool
		fails  bool
	}{{1, false, false}, {2, false, false}, {1, true, false}, {0, false, true}, {2, false, false}, {1, true, false}, {3, false, false}}
	for i, w := range want {
		g := got[i]
		if (g.err != nil) != w.fails || g.offset != w.offset || g.dup != w.dup {
			t.Errorf("event %d (%s): %+v, want offset %d dup %v failing %v", i, reqs[i].payload, g, w.offset, w.dup, w.fails)
		}
	}
	if got[5].epoch != earlier {
		t.Errorf("duplicate of an earlier call in epoch %q, want %q", got[5].epoch, earlier)
	}
	for _, ch := range []string{"a", "b"} {
		events, ok, err := b.History(ctx, ch, 0, got[map[string]int{"a": 0, "b": 1}[ch]].epoch)
		if err != nil || !ok {
			t.Fatalf("history of %s: %v %v", ch, ok, err)
		}
		var payloads []string
		for _, e := range events {
			payloads = append(payloads, string(e.Payload))
		}
		if want := map[string]string{"a": "a1 a2", "b": "0 b1 b2"}[ch]; strings.Join(payloads, " ") != want {
			t.Errorf("history of %s: %q, want %q", ch, payloads, want)
		}
	}
}

// TestPublishArgsAllocations: a call's arguments cost per channel (its
// keys, its seen position) and two allocations per event (type and
// payload as go-redis arguments): 5 events of one channel, 23
// allocations and one getrandom; before the per-channel layout, 63 and
// five.
func TestPublishArgsAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	b, err := New(Options{Addr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	b.seen.note("c", "ab12cd", 1000)
	call := make([]*pubReq, 5)
	for i := range call {
		call[i] = &pubReq{channel: "c", typ: "t", payload: []byte(`{"n":1}`)}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = b.publishArgs(call) }); n > 23 {
		t.Errorf("publishArgs of 5 events allocates %v times, want at most 23", n)
	}
}

// TestNextAnswer: the publish script's answer, event by event; a
// malformed one is never read as another event's.
func TestNextAnswer(t *testing.T) {
	cases := []struct {
		name, in   string
		flag       byte
		text, rest string
		ok         bool
	}{
		{"published", "012\n09:12\nab", '0', "12", "09:12\nab", true},
		{"duplicate", "16:3\nabcd", '1', "3\nabcd", "", true},
		{"error with a colon", "210:ERR x: y:z", '2', "ERR x: y:z", "", true},
		{"empty text", "20:", '2', "", "", true},
		{"offset without its end", "012", 0, "", "", false},
		{"length past the end", "19:12\nab", 0, "", "", false},
		{"bad flag", "38:12\nab12c", 0, "", "", false},
		{"no length", "1:12", 0, "", "", false},
		{"empty", "", 0, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flag, text, rest, ok := nextAnswer(tc.in)
			if flag != tc.flag || text != tc.text || rest != tc.rest || ok != tc.ok {
				t.Errorf("nextAnswer(%q) = %q %q %q %v", tc.in, flag, text, rest, ok)
			}
		})
	}
}
