package daemon

import (
	"encoding/json"
	"testing"
)

// replyCases are the replies whose hand-written encoding must equal
// encoding/json's byte for byte; BenchmarkReplyEncode reuses them.
var replyCases = []struct {
	name string
	v    jsonAppender
}{
	{"welcome", welcome{Type: "welcome", ConnectionID: "c0ffee12", User: "ann", Protocol: "fanout.v1", PingIntervalMS: 30000, MaxSubscriptions: 128, ExpiresAt: 1893456000}},
	{"welcome with url channels", welcome{Type: "welcome", ConnectionID: "c0ffee12", User: "ann", Protocol: "fanout.v1", PingIntervalMS: 30000, MaxSubscriptions: 128, URLChannels: 3}},
	{"welcome without expiry, odd user", welcome{Type: "welcome", ConnectionID: "x", User: "<b>&\"é\u2028\xff", Protocol: "fanout.v1"}},
	{"subscribed", subscribedReply{Type: "subscribed", ID: json.RawMessage(`7`), Channel: "news", Offset: 42, Epoch: "e1"}},
	{"subscribed recovered", subscribedReply{Type: "subscribed", ID: json.RawMessage(`"a<b"`), Channel: "project:1", ProjectID: "1", Epoch: "e", Recovered: new(bool)}},
	{"pong", reply{Type: "pong", ID: json.RawMessage(`"r-1"`)}},
	{"pong without id", reply{Type: "pong"}},
	{"error", reply{Type: "error", ID: json.RawMessage(`-1.5e3`), Code: "forbidden", Message: "channel \"x\" is not allowed\n"}},
	{"unsubscribed", reply{Type: "unsubscribed", Channel: "a", ProjectID: "p", ExpiresAt: -1, ID: json.RawMessage(`"日本"`)}},
}

func TestReplyEncodingMatchesEncodingJSON(t *testing.T) {
	for _, tc := range replyCases {
		t.Run(tc.name, func(t *testing.T) { compareReply(t, tc.v) })
	}
}

func FuzzReplyEncoding(f *testing.F) {
	f.Add("ann", "news", "msg", `"id"`, int64(1))
	f.Add("<>&\u2028", "\x00\x7f\xff", "é", `12`, int64(-5))
	f.Fuzz(func(t *testing.T, user, channel, message, id string, n int64) {
		raw := json.RawMessage(id)
		if !json.Valid(raw) || id == "" {
			raw = nil
		} else if c := id[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
			raw = nil // decodeCommand passes only strings and numbers
		}
		compareReply(t, welcome{Type: "welcome", ConnectionID: channel, User: user, Protocol: message, PingIntervalMS: n, MaxSubscriptions: int(n), ExpiresAt: n})
		compareReply(t, reply{Type: "error", ID: raw, Channel: channel, ProjectID: user, Code: channel, Message: message, ExpiresAt: n})
		ok := n%2 == 0
		compareReply(t, subscribedReply{Type: "subscribed", ID: raw, Channel: channel, ProjectID: user, Offset: uint64(n), Epoch: message, Recovered: &ok})
	})
}

func compareReply(t *testing.T, v jsonAppender) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if got := v.appendJSON(nil); string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestFrameReplyAllocs: a reply a connection gets costs one allocation,
// its frame; the encoding is done in a pooled buffer (frameReply).
func TestFrameReplyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops at random under the race detector")
	}
	n := New(Options{})
	w := replyCases[0].v.(welcome)
	sub := replyCases[3].v.(subscribedReply)
	pong := replyCases[5].v.(reply)
	for name, f := range map[string]func() []byte{
		"welcome":    func() []byte { return frameReply(n, w) },
		"subscribed": func() []byte { return frameReply(n, sub) },
		"pong":       func() []byte { return frameReply(n, pong) },
	} {
		if got := string(f()); got != string(marshalReply(replyCasesByName(name))) {
			t.Fatalf("%s: frame %s", name, got)
		}
		if a := testing.AllocsPerRun(100, func() { _ = f() }); a != 1 {
			t.Errorf("%s: %v allocations, want 1 (the frame)", name, a)
		}
	}
}

func replyCasesByName(name string) jsonAppender {
	for _, tc := range replyCases {
		if tc.name == name {
			return tc.v
		}
	}
	return nil
}

func BenchmarkReplyEncode(b *testing.B) {
	n := New(Options{})
	b.Run("frame/welcome", func(b *testing.B) {
		w := replyCases[0].v.(welcome)
		b.ReportAllocs()
		for b.Loop() {
			_ = frameReply(n, w)
		}
	})
	for _, tc := range replyCases[:1] {
		b.Run("append/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = marshalReply(tc.v)
			}
		})
		b.Run("encoding-json/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = json.Marshal(tc.v)
			}
		})
	}
}
