package daemon

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWelcome(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		subject string
		want    map[string]string // field → JSON text
	}{
		{
			name:    "defaults",
			subject: "u1",
			want: map[string]string{
				"type": `"welcome"`, "user": `"u1"`, "protocol": `"fanout.v1"`,
				"ping_interval_ms": `0`, "max_subscriptions": `128`,
			},
		},
		{
			name:    "configured",
			opts:    Options{PingInterval: 25 * time.Second, MaxSubscriptions: 7, Protocol: "fanout.v2"},
			subject: "alice@example.com",
			want: map[string]string{
				"type": `"welcome"`, "user": `"alice@example.com"`, "protocol": `"fanout.v2"`,
				"ping_interval_ms": `25000`, "max_subscriptions": `7`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(tt.opts)
			ft1, ft2 := &fakeTransport{}, &fakeTransport{}
			s1 := n.Connect(ft1, Identity{Subject: tt.subject})
			s2 := n.Connect(ft2, Identity{Subject: tt.subject})
			defer s1.Closed(1000)
			defer s2.Closed(1000)

			w := ft1.only(t)
			for k, v := range tt.want {
				if got := w.rawField(k); got != v {
					t.Errorf("welcome %s = %s, want %s", k, got, v)
				}
			}
			if len(w) != len(tt.want)+1 {
				t.Errorf("welcome has fields %v, want %d", w, len(tt.want)+1)
			}
			id1, id2 := w.str(t, "connection_id"), ft2.only(t).str(t, "connection_id")
			if id1 == "" || id1 != s1.ID() {
				t.Errorf("connection_id = %q, want the session's ID %q", id1, s1.ID())
			}
			if id1 == id2 {
				t.Errorf("two connections share the id %q", id1)
			}
			if got := n.Stats().Connections; got != 2 {
				t.Errorf("Stats().Connections = %d, want 2", got)
			}
		})
	}
}

// want describes one expected server reply: every field listed is compared
// exactly, "" meaning the key must be absent. id is raw JSON.
type want struct {
	typ, code, id, channel, projectID string
}

func (w want) check(t *testing.T, got wireMsg) {
	t.Helper()
	fields := []struct{ key, want, got string }{
		{"type", w.typ, got.str(t, "type")},
		{"code", w.code, got.str(t, "code")},
		{"id", w.id, got.rawField("id")},
		{"channel", w.channel, got.str(t, "channel")},
		{"projectId", w.projectID, got.str(t, "projectId")},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q (reply %v)", f.key, f.got, f.want, got)
		}
	}
	if w.typ == "error" && got.str(t, "message") == "" {
		t.Errorf("error frame without a message: %v", got)
	}
}

func errReply(code, id string) want { return want{typ: "error", code: code, id: id} }

// commandCases are single client messages and the one reply each gets.
var commandCases = []struct {
	name     string
	subject  string // default "u1"
	channels []string
	msg      string
	want     want
}{
	// Permissions.
	{"exact allowed, string id", "", []string{"news"},
		`{"action":"subscribe","channel":"news","id":"a1"}`, want{typ: "subscribed", channel: "news", id: `"a1"`}},
	{"exact allowed, numeric id", "", []string{"news"},
		`{"action":"subscribe","channel":"news","id":7}`, want{typ: "subscribed", channel: "news", id: `7`}},
	{"exact allowed, no id", "", []string{"news"},
		`{"action":"subscribe","channel":"news"}`, want{typ: "subscribed", channel: "news"}},
	{"exact forbids longer name", "", []string{"news"},
		`{"action":"subscribe","channel":"news2","id":"r1"}`, errReply("forbidden", `"r1"`)},
	{"exact forbids prefix", "", []string{"news"},
		`{"action":"subscribe","channel":"new","id":42}`, errReply("forbidden", `42`)},
	{"forbidden, negative fractional id", "", []string{"news"},
		`{"action":"subscribe","channel":"sport","id":-3.5}`, errReply("forbidden", `-3.5`)},
	{"star allows anything", "", []string{"*"},
		`{"action":"subscribe","channel":"any:thing/at@all"}`, want{typ: "subscribed", channel: "any:thing/at@all"}},
	{"prefix pattern allows", "", []string{"project:*"},
		`{"action":"subscribe","channel":"project:abc"}`, want{typ: "subscribed", channel: "project:abc", id: ""}},
	{"prefix pattern forbids other family", "", []string{"project:*"},
		`{"action":"subscribe","channel":"projects:abc","id":"p"}`, errReply("forbidden", `"p"`)},
	{"user:{sub} allows own", "alice", []string{"user:{sub}"},
		`{"action":"subscribe","channel":"user:alice"}`, want{typ: "subscribed", channel: "user:alice"}},
	{"user:{sub} forbids another", "alice", []string{"user:{sub}"},
		`{"action":"subscribe","channel":"user:bob","id":"b"}`, errReply("forbidden", `"b"`)},
	{"user:{sub} is not literal", "alice", []string{"user:{sub}"},
		`{"action":"subscribe","channel":"user:sub"}`, errReply("forbidden", "")},
	{"no channels claim", "", nil,
		`{"action":"subscribe","channel":"news","id":"n"}`, errReply("forbidden", `"n"`)},
	{"second pattern matches", "", []string{"news", "sport:*"},
		`{"action":"subscribe","channel":"sport:tennis"}`, want{typ: "subscribed", channel: "sport:tennis"}},

	// ADR-004 projectId form.
	{"projectId", "", []string{"project:*"},
		`{"action":"subscribe","projectId":"abc-123"}`,
		want{typ: "subscribed", channel: "project:abc-123", projectID: "abc-123"}},
	{"projectId with agreeing channel", "", []string{"project:*"},
		`{"action":"subscribe","projectId":"abc","channel":"project:abc","id":1}`,
		want{typ: "subscribed", channel: "project:abc", projectID: "abc", id: `1`}},
	{"projectId and channel disagree", "", []string{"*"},
		`{"action":"subscribe","projectId":"abc","channel":"project:xyz","id":"d"}`, errReply("bad_request", `"d"`)},
	{"projectId and other channel", "", []string{"*"},
		`{"action":"subscribe","projectId":"abc","channel":"news"}`, errReply("bad_request", "")},
	{"projectId forbidden", "", []string{"news"},
		`{"action":"subscribe","projectId":"abc"}`, errReply("forbidden", "")},
	{"projectId invalid", "", []string{"*"},
		`{"action":"subscribe","projectId":"a b","id":"i"}`, errReply("invalid_channel", `"i"`)},

	// Channel names. An empty "channel" cannot be told from an absent one
	// after decoding; the protocol reports it as a missing channel.
	{"empty channel", "", []string{"*"},
		`{"action":"subscribe","channel":"","id":"e"}`, errReply("bad_request", `"e"`)},
	{"missing channel", "", []string{"*"},
		`{"action":"subscribe","id":"m"}`, errReply("bad_request", `"m"`)},
	{"longest channel", "", []string{"*"},
		`{"action":"subscribe","channel":"` + strings.Repeat("c", 255) + `"}`,
		want{typ: "subscribed", channel: strings.Repeat("c", 255)}},
	{"channel too long", "", []string{"*"},
		`{"action":"subscribe","channel":"` + strings.Repeat("c", 256) + `","id":"l"}`, errReply("invalid_channel", `"l"`)},
	{"channel with space", "", []string{"*"},
		`{"action":"subscribe","channel":"a b"}`, errReply("invalid_channel", "")},
	{"channel with quote", "", []string{"*"},
		`{"action":"subscribe","channel":"a\"b"}`, errReply("invalid_channel", "")},
	{"channel with backslash", "", []string{"*"},
		`{"action":"subscribe","channel":"a\\b"}`, errReply("invalid_channel", "")},
	{"channel with star", "", []string{"*"},
		`{"action":"subscribe","channel":"news*"}`, errReply("invalid_channel", "")},
	{"channel with brace", "", []string{"*"},
		`{"action":"subscribe","channel":"user:{sub}"}`, errReply("invalid_channel", "")},
	{"channel non-ASCII", "", []string{"*"},
		`{"action":"subscribe","channel":"café"}`, errReply("invalid_channel", "")},
	{"channel with newline", "", []string{"*"},
		`{"action":"subscribe","channel":"a\nb"}`, errReply("invalid_channel", "")},
	{"unsubscribe invalid channel", "", []string{"*"},
		`{"action":"unsubscribe","channel":"a b","id":"u"}`, errReply("invalid_channel", `"u"`)},
	{"unsubscribe not subscribed", "", []string{"*"},
		`{"action":"unsubscribe","channel":"news","id":"u"}`, want{typ: "unsubscribed", channel: "news", id: `"u"`}},

	// Other actions.
	{"ping with id", "", nil, `{"action":"ping","id":9}`, want{typ: "pong", id: `9`}},
	{"ping with string id", "", nil, `{"action":"ping","id":"x-1"}`, want{typ: "pong", id: `"x-1"`}},
	{"ping without id", "", nil, `{"action":"ping"}`, want{typ: "pong"}},
	{"ping ignores unknown fields", "", nil, `{"action":"ping","v":2,"extra":{"a":[1]}}`, want{typ: "pong"}},
	{"unknown action", "", []string{"*"}, `{"action":"publish","channel":"x","id":"q"}`, errReply("unknown_action", `"q"`)},
	{"action is case-sensitive", "", []string{"*"}, `{"action":"Subscribe","channel":"x"}`, errReply("unknown_action", "")},

	// Malformed messages.
	{"malformed JSON", "", nil, `{"action":`, errReply("bad_request", "")},
	{"not JSON", "", nil, `hello`, errReply("bad_request", "")},
	{"empty message", "", nil, ``, errReply("bad_request", "")},
	{"JSON array", "", nil, `[{"action":"ping"}]`, errReply("bad_request", "")},
	{"JSON string", "", nil, `"ping"`, errReply("bad_request", "")},
	{"JSON null", "", nil, `null`, errReply("bad_request", "")},
	{"missing action", "", nil, `{"channel":"news","id":"m1"}`, errReply("bad_request", `"m1"`)},
	{"empty action", "", nil, `{"action":"","id":3}`, errReply("bad_request", `3`)},
	{"action not a string", "", nil, `{"action":1,"id":"n"}`, errReply("bad_request", "")},
	{"channel not a string", "", []string{"*"}, `{"action":"subscribe","channel":["a"]}`, errReply("bad_request", "")},
	{"object id", "", nil, `{"action":"ping","id":{"a":1}}`, errReply("bad_request", "")},
	{"array id", "", nil, `{"action":"ping","id":[1]}`, errReply("bad_request", "")},
	{"bool id", "", nil, `{"action":"ping","id":true}`, errReply("bad_request", "")},
	{"null id is no id", "", nil, `{"action":"ping","id":null}`, want{typ: "pong"}},
	{"null id on an error", "", nil, `{"action":"nope","id":null}`, errReply("unknown_action", "")},
	{"id too long", "", nil, `{"action":"ping","id":"` + strings.Repeat("i", 127) + `"}`, errReply("bad_request", "")},
	{"longest id", "", nil, `{"action":"ping","id":"` + strings.Repeat("i", 126) + `"}`,
		want{typ: "pong", id: `"` + strings.Repeat("i", 126) + `"`}},
	{"id not UTF-8", "", nil, "{\"action\":\"ping\",\"id\":\"\xff\"}", errReply("bad_request", "")},
}

func TestSessionCommands(t *testing.T) {
	for _, tt := range commandCases {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{})
			sub := tt.subject
			if sub == "" {
				sub = "u1"
			}
			s, ft := connect(t, n, sub, tt.channels...)
			defer s.Closed(1000)

			tt.want.check(t, roundTrip(t, s, ft, tt.msg))
			if c := ft.closeCalls(); len(c) != 0 {
				t.Errorf("connection closed after a text message: %v", c)
			}
			wantSubs := int64(0)
			if tt.want.typ == "subscribed" {
				wantSubs = 1
			}
			if got := n.Stats().Subscriptions; got != wantSubs {
				t.Errorf("Stats().Subscriptions = %d, want %d", got, wantSubs)
			}
			// The session still works after whatever it was sent.
			want{typ: "pong", id: `"after"`}.check(t, roundTrip(t, s, ft, `{"action":"ping","id":"after"}`))
		})
	}
}

func TestSubscribeThenEvents(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		channel   string
		projectID string
	}{
		{"channel", `{"action":"subscribe","channel":"news","id":1}`, "news", ""},
		{"projectId form", `{"action":"subscribe","projectId":"abc-123","id":1}`, "project:abc-123", "abc-123"},
		{"project channel", `{"action":"subscribe","channel":"project:abc-123","id":1}`, "project:abc-123", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{})
			s, ft := connect(t, n, "u1", "*")
			defer s.Closed(1000)
			s.Message(false, []byte(tt.msg))
			ctx := context.Background()
			for i := range 3 {
				if err := n.Publish(ctx, tt.channel, "story.updated", []byte(`{"n":`+strconv.Itoa(i)+`}`)); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.Publish(ctx, "elsewhere", "story.updated", nil); err != nil {
				t.Fatal(err)
			}

			msgs := ft.take(t)
			if len(msgs) != 4 {
				t.Fatalf("got %d messages, want the reply and 3 events: %v", len(msgs), msgs)
			}
			want{typ: "subscribed", channel: tt.channel, projectID: tt.projectID, id: `1`}.check(t, msgs[0])
			for i, m := range msgs[1:] {
				// Events carry the projectId of a project channel whichever
				// way the client subscribed.
				want{typ: "story.updated", channel: tt.channel, projectID: projectID(tt.channel)}.check(t, m)
				if got, w := m.rawField("payload"), `{"n":`+strconv.Itoa(i)+`}`; got != w {
					t.Errorf("event %d payload = %s, want %s", i, got, w)
				}
			}
		})
	}
}

func TestProjectEventCarriesProjectID(t *testing.T) {
	n := New(Options{})
	s, ft := connect(t, n, "u1", "project:*")
	defer s.Closed(1000)
	epoch := roundTrip(t, s, ft, `{"action":"subscribe","projectId":"abc-123"}`).str(t, "epoch")
	if err := n.Publish(context.Background(), "project:abc-123", "story.status.changed", []byte(`{"status":"done"}`)); err != nil {
		t.Fatal(err)
	}
	got := string(ft.raw()[0])
	wantEvent := `{"type":"story.status.changed","channel":"project:abc-123","projectId":"abc-123","offset":1,"epoch":"` + epoch + `","payload":{"status":"done"}}`
	if got != wantEvent {
		t.Errorf("event =\n%s\nwant\n%s", got, wantEvent)
	}
}

func TestUnsubscribeStopsEvents(t *testing.T) {
	tests := []struct {
		name, sub, unsub, channel string
	}{
		{"channel", `{"action":"subscribe","channel":"news"}`, `{"action":"unsubscribe","channel":"news","id":"u"}`, "news"},
		{"projectId", `{"action":"subscribe","projectId":"p1"}`, `{"action":"unsubscribe","projectId":"p1","id":"u"}`, "project:p1"},
		{"projectId then channel", `{"action":"subscribe","projectId":"p1"}`, `{"action":"unsubscribe","channel":"project:p1","id":"u"}`, "project:p1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{})
			s, ft := connect(t, n, "u1", "*")
			defer s.Closed(1000)
			other, oft := connect(t, n, "u2", "*")
			defer other.Closed(1000)
			roundTrip(t, s, ft, tt.sub)
			subscribe(t, other, oft, tt.channel)

			r := roundTrip(t, s, ft, tt.unsub)
			if r.str(t, "type") != "unsubscribed" || r.str(t, "channel") != tt.channel || r.rawField("id") != `"u"` {
				t.Fatalf("unsubscribe reply = %v", r)
			}
			if st := n.Stats(); st.Subscriptions != 1 || st.Channels != 1 {
				t.Errorf("Stats = %+v, want 1 subscription in 1 channel", st)
			}
			if err := n.Publish(context.Background(), tt.channel, "tick", nil); err != nil {
				t.Fatal(err)
			}
			if msgs := ft.take(t); len(msgs) != 0 {
				t.Errorf("unsubscribed session got %v", msgs)
			}
			if m := oft.only(t); m.str(t, "type") != "tick" {
				t.Errorf("remaining subscriber got %v, want the event", m)
			}
			if st := n.Stats(); st.Delivered != 1 {
				t.Errorf("Stats().Delivered = %d, want 1", st.Delivered)
			}
		})
	}
}

func TestSubscribeTwiceIsIdempotent(t *testing.T) {
	n := New(Options{})
	s, ft := connect(t, n, "u1", "*")
	defer s.Closed(1000)
	want{typ: "subscribed", channel: "news", id: `1`}.check(t, roundTrip(t, s, ft, `{"action":"subscribe","channel":"news","id":1}`))
	want{typ: "subscribed", channel: "news", id: `2`}.check(t, roundTrip(t, s, ft, `{"action":"subscribe","channel":"news","id":2}`))
	if st := n.Stats(); st.Subscriptions != 1 || st.Channels != 1 {
		t.Errorf("Stats = %+v, want 1 subscription in 1 channel", st)
	}
	if err := n.Publish(context.Background(), "news", "tick", nil); err != nil {
		t.Fatal(err)
	}
	if msgs := ft.take(t); len(msgs) != 1 {
		t.Errorf("got %d copies of one event, want 1: %v", len(msgs), msgs)
	}
	// One unsubscribe undoes both subscribes.
	roundTrip(t, s, ft, `{"action":"unsubscribe","channel":"news"}`)
	if st := n.Stats(); st.Subscriptions != 0 || st.Channels != 0 {
		t.Errorf("after unsubscribe Stats = %+v, want none", st)
	}
}

func TestMaxSubscriptions(t *testing.T) {
	n := New(Options{MaxSubscriptions: 2})
	s, ft := connect(t, n, "u1", "*")
	defer s.Closed(1000)
	subscribe(t, s, ft, "a")
	subscribe(t, s, ft, "b")
	errReply("too_many_subscriptions", `"c"`).check(t, roundTrip(t, s, ft, `{"action":"subscribe","channel":"c","id":"c"}`))
	// Re-subscribing at the limit is not a new subscription.
	subscribe(t, s, ft, "a")
	if got := n.Stats().Subscriptions; got != 2 {
		t.Errorf("Stats().Subscriptions = %d, want 2", got)
	}
	roundTrip(t, s, ft, `{"action":"unsubscribe","channel":"a"}`)
	subscribe(t, s, ft, "c")
	if got := n.Stats().Subscriptions; got != 2 {
		t.Errorf("Stats().Subscriptions = %d, want 2", got)
	}
	// The limit is per session.
	other, oft := connect(t, n, "u2", "*")
	defer other.Closed(1000)
	subscribe(t, other, oft, "a")
	subscribe(t, other, oft, "d")
}

func TestBinaryMessageCloses(t *testing.T) {
	n := New(Options{})
	s, ft := connect(t, n, "u1", "*")
	defer s.Closed(1003)
	s.Message(true, []byte(`{"action":"ping"}`))
	calls := ft.closeCalls()
	if len(calls) != 1 || calls[0].code != 1003 || calls[0].reason == "" {
		t.Fatalf("Close calls = %v, want one with code 1003 and a reason", calls)
	}
	if msgs := ft.take(t); len(msgs) != 0 {
		t.Errorf("binary message answered with %v", msgs)
	}
}

func TestClosedReleasesSubscriptions(t *testing.T) {
	n := New(Options{})
	s1, ft1 := connect(t, n, "u1", "*")
	s2, ft2 := connect(t, n, "u2", "*")
	for _, c := range []string{"a", "b", "c"} {
		subscribe(t, s1, ft1, c)
	}
	subscribe(t, s2, ft2, "a")
	if st := n.Stats(); st.Connections != 2 || st.Subscriptions != 4 || st.Channels != 3 {
		t.Fatalf("Stats = %+v, want 2 connections, 4 subscriptions, 3 channels", st)
	}

	s1.Closed(1000)
	if st := n.Stats(); st.Connections != 1 || st.Subscriptions != 1 || st.Channels != 1 {
		t.Fatalf("after one Closed Stats = %+v, want 1 connection, 1 subscription, 1 channel", st)
	}
	if err := n.Publish(context.Background(), "a", "tick", nil); err != nil {
		t.Fatal(err)
	}
	if msgs := ft1.take(t); len(msgs) != 0 {
		t.Errorf("closed session got %v", msgs)
	}
	if m := ft2.only(t); m.str(t, "type") != "tick" {
		t.Errorf("open session got %v, want the event", m)
	}

	s1.Closed(1000) // a transport may report twice; nothing changes
	s2.Closed(1001)
	s2.Closed(1001)
	if st := n.Stats(); st.Connections != 0 || st.Subscriptions != 0 || st.Channels != 0 {
		t.Errorf("after all Closed Stats = %+v, want zeros", st)
	}
}

func TestMessagesAfterClosedAreIgnored(t *testing.T) {
	tests := []struct {
		name   string
		binary bool
		msg    string
	}{
		{"subscribe", false, `{"action":"subscribe","channel":"news","id":1}`},
		{"ping", false, `{"action":"ping","id":1}`},
		{"malformed", false, `{`},
		{"binary", true, `{"action":"ping"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(Options{})
			s, ft := connect(t, n, "u1", "*")
			s.Closed(1000)
			s.Message(tt.binary, []byte(tt.msg))
			if msgs := ft.take(t); len(msgs) != 0 {
				t.Errorf("closed session answered %v", msgs)
			}
			if c := ft.closeCalls(); len(c) != 0 {
				t.Errorf("closed session called Close: %v", c)
			}
			if st := n.Stats(); st.Connections != 0 || st.Subscriptions != 0 || st.Channels != 0 {
				t.Errorf("Stats = %+v, want zeros", st)
			}
		})
	}
}

// TestPrefixedAllocs: a connection id or an epoch is one allocation.
func TestPrefixedAllocs(t *testing.T) {
	n := New(Options{})
	if got, want := n.prefixed(123456789), n.prefix+strconv.FormatUint(123456789, 36); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	var id string
	if a := testing.AllocsPerRun(100, func() { id = n.prefixed(1 << 40) }); a != 1 || id == "" {
		t.Fatalf("%v allocations, want 1", a)
	}
}
