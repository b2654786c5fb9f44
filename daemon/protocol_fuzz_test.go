package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// clientMessages are real client messages, good and bad; they seed the
// fuzzer and feed BenchmarkDecodeCommand.
var clientMessages = []struct{ name, msg string }{
	{"subscribe", `{"action":"subscribe","channel":"news","id":1}`},
	{"subscribe string id", `{"action":"subscribe","channel":"project:abc-123","id":"req-1"}`},
	{"projectId", `{"action":"subscribe","projectId":"abc-123"}`},
	{"projectId and channel", `{"action":"subscribe","projectId":"abc","channel":"project:abc","id":-2.5e3}`},
	{"projectId disagrees", `{"action":"subscribe","projectId":"abc","channel":"project:xyz"}`},
	{"user channel", `{"action":"subscribe","channel":"user:u1"}`},
	{"unsubscribe", `{"action":"unsubscribe","channel":"news","id":"7"}`},
	{"unsubscribe projectId", `{"action":"unsubscribe","projectId":"abc-123","id":2}`},
	{"ping", `{"action":"ping","id":"p1"}`},
	{"ping zero id", `{"action":"ping","id":0}`},
	{"ping no id", `{"action":"ping"}`},
	{"extra fields", `{ "action" : "ping" , "id" : 12 , "future" : [1, {"x": null}] }`},
	{"unknown action", `{"action":"publish","channel":"news"}`},
	{"channel with space", `{"action":"subscribe","channel":"a b"}`},
	{"channel with star", `{"action":"subscribe","channel":"news*"}`},
	{"empty channel", `{"action":"subscribe","channel":""}`},
	{"no channel", `{"action":"subscribe"}`},
	{"no action", `{"channel":"news","id":"m"}`},
	{"object id", `{"action":"ping","id":{"a":1}}`},
	{"array id", `{"action":"ping","id":[1]}`},
	{"null id", `{"action":"ping","id":null}`},
	{"bool id", `{"action":"ping","id":true}`},
	{"id not UTF-8", "{\"action\":\"ping\",\"id\":\"\xff\"}"},
	{"id lone surrogate", `{"action":"ping","id":"\ud800"}`},
	{"action not string", `{"action":1}`},
	{"truncated", `{"action":"ping"`},
	{"array", `[{"action":"ping"}]`},
	{"string", `"ping"`},
	{"null", `null`},
	{"empty object", `{}`},
	{"empty", ``},
	{"not JSON", `ping`},
}

func FuzzDecodeCommand(f *testing.F) {
	for _, m := range clientMessages {
		f.Add([]byte(m.msg))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := decodeCommand(data)
		if !validEchoID(cmd.ID) {
			t.Fatalf("decodeCommand(%q) returned id %q, which may not be echoed", data, cmd.ID)
		}
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("decodeCommand(%q) = %v, want a bad request", data, err)
			}
		} else if cmd.Action == "" {
			t.Fatalf("decodeCommand(%q) accepted a command without an action", data)
		}

		checkSessionReplies(t, data)
	})
}

// validEchoID: absent, or a JSON string or number short enough and UTF-8.
func validEchoID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	if len(id) > maxIDBytes || !utf8.Valid(id) || !json.Valid(id) {
		return false
	}
	c := id[0]
	return c == '"' || c == '-' || (c >= '0' && c <= '9')
}

// checkSessionReplies sends data to a session and checks that everything the
// server says in return is a UTF-8 JSON object with a string "type", and
// that a subscription it reports works and is released on close.
func checkSessionReplies(t *testing.T, data []byte) {
	n := New(Options{})
	ft := &fakeTransport{}
	s := n.Connect(ft, Identity{Subject: "u1", Channels: []string{"project:*", "news", "user:{sub}"}})
	s.Message(false, data)
	var subscribed []string
	for i, m := range ft.raw() {
		if !json.Valid(m) || !utf8.Valid(m) {
			t.Fatalf("reply %d to %q is not UTF-8 JSON: %q", i, data, m)
		}
		var r struct {
			Type    *string `json:"type"`
			Channel string  `json:"channel"`
		}
		if err := json.Unmarshal(m, &r); err != nil || r.Type == nil || *r.Type == "" {
			t.Fatalf("reply %d to %q has no type: %q (%v)", i, data, m, err)
		}
		if *r.Type == "subscribed" {
			subscribed = append(subscribed, r.Channel)
		}
	}
	if c := ft.closeCalls(); len(c) != 0 {
		t.Fatalf("text message %q closed the connection: %v", data, c)
	}
	if got := n.Stats().Subscriptions; got != int64(len(subscribed)) {
		t.Fatalf("after %q: %d subscriptions, %d subscribed replies", data, got, len(subscribed))
	}
	for _, ch := range subscribed {
		ft.reset()
		if err := n.Publish(context.Background(), ch, "t", []byte(`{}`)); err != nil {
			t.Fatalf("publish to subscribed channel %q: %v", ch, err)
		}
		if raw := ft.raw(); len(raw) != 1 || !json.Valid(raw[0]) {
			t.Fatalf("event on %q: got %q, want one JSON event", ch, raw)
		}
	}
	s.Closed(1000)
	if st := n.Stats(); st.Connections != 0 || st.Subscriptions != 0 || st.Channels != 0 {
		t.Fatalf("after %q and Closed: %+v", data, st)
	}
}

func clientMessage(name string) []byte {
	for _, m := range clientMessages {
		if m.name == name {
			return []byte(m.msg)
		}
	}
	panic("no client message " + name)
}
