package ipc

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const ndjsonType = "application/x-ndjson"

var publishCases = []struct {
	name      string
	ctype     string
	body      string
	status    int
	wantBody  string
	wantCalls []call
}{
	{
		name: "single", ctype: "application/json",
		body:   `{"channel":"c","type":"t","payload":{"a":1}}`,
		status: 200, wantBody: `{"published":1,"positions":[{"channel":"c","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"c", "t", `{"a":1}`}},
	},
	{
		name: "single without payload", ctype: "application/json",
		body:   `{"channel":"c","type":"t"}`,
		status: 200, wantBody: `{"published":1,"positions":[{"channel":"c","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"c", "t", noPayload}},
	},
	{
		name: "array keeps order", ctype: "application/json",
		body:   `[{"channel":"a","type":"1","payload":1},{"channel":"b","type":"2","payload":"x"},{"channel":"a","type":"3"}]`,
		status: 200, wantBody: `{"published":3,"positions":[{"channel":"a","offset":1,"epoch":"e1"},{"channel":"b","offset":1,"epoch":"e1"},{"channel":"a","offset":2,"epoch":"e1"}]}`,
		wantCalls: []call{{"a", "1", "1"}, {"b", "2", `"x"`}, {"a", "3", noPayload}},
	},
	{
		name: "ndjson with blank lines and CRLF", ctype: ndjsonType + "; charset=utf-8",
		body:   "{\"channel\":\"a\",\"type\":\"1\"}\r\n\n  \n{\"channel\":\"b\",\"type\":\"2\",\"payload\":[1,2]}",
		status: 200, wantBody: `{"published":2,"positions":[{"channel":"a","offset":1,"epoch":"e1"},{"channel":"b","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"a", "1", noPayload}, {"b", "2", "[1,2]"}},
	},
	{
		name: "projectId maps to channel", ctype: "application/json",
		body:   `{"projectId":"abc","type":"t"}`,
		status: 200, wantBody: `{"published":1,"positions":[{"channel":"project:abc","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"project:abc", "t", noPayload}},
	},
	{
		name: "projectId agreeing with channel", ctype: "application/json",
		body:   `{"projectId":"abc","channel":"project:abc","type":"t"}`,
		status: 200, wantBody: `{"published":1,"positions":[{"channel":"project:abc","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"project:abc", "t", noPayload}},
	},
	{
		name: "text/plain is tried as JSON", ctype: "text/plain",
		body:   `{"channel":"c","type":"t"}`,
		status: 200, wantBody: `{"published":1,"positions":[{"channel":"c","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"c", "t", noPayload}},
	},
	{
		name: "curl -d form type is tried as JSON", ctype: "application/x-www-form-urlencoded",
		body:   `{"channel":"c","type":"t"}`,
		status: 200, wantBody: `{"published":1,"positions":[{"channel":"c","offset":1,"epoch":"e1"}]}`,
		wantCalls: []call{{"c", "t", noPayload}},
	},
	{
		name: "projectId disagreeing with channel", ctype: "application/json",
		body:     `{"projectId":"abc","channel":"other","type":"t"}`,
		status:   400,
		wantBody: `{"error":"invalid event","events":[{"index":0,"error":"channel \"other\" and projectId \"abc\" disagree"}]}`,
	},
	{
		name: "unknown field", ctype: "application/json",
		body:     `{"channel":"c","type":"t","extra":1}`,
		status:   400,
		wantBody: `{"error":"invalid event","events":[{"index":0,"error":"unknown field \"extra\""}]}`,
	},
	{
		name: "bad events in the middle publish nothing", ctype: "application/json",
		body:   `[{"channel":"a","type":"t"},{"channel":"a"},{"channel":"forbidden","type":"t"},{"type":"t"},{"channel":"a","type":"t"}]`,
		status: 400,
		wantBody: `{"error":"invalid event","events":[` +
			`{"index":1,"error":"missing \"type\""},` +
			`{"index":2,"error":"channel not allowed"},` +
			`{"index":3,"error":"missing \"channel\" (or \"projectId\")"}]}`,
	},
	{
		name: "ndjson bad line publishes nothing", ctype: ndjsonType,
		body:     "{\"channel\":\"a\",\"type\":\"t\"}\n\n{\"channel\":\"a\",\"type\":\"t\",\"x\":1}\n",
		status:   400,
		wantBody: `{"error":"invalid event","events":[{"index":1,"error":"unknown field \"x\""}]}`,
	},
	{
		name: "element not an object", ctype: "application/json",
		body:     `[{"channel":"a","type":"t"},[1]]`,
		status:   400,
		wantBody: `{"error":"invalid event","events":[{"index":1,"error":"event must be a JSON object"}]}`,
	},
	{
		name: "field of wrong type", ctype: "application/json",
		body:     `{"channel":5,"type":"t"}`,
		status:   400,
		wantBody: `{"error":"invalid event","events":[{"index":0,"error":"field \"channel\" must be a string"}]}`,
	},
	{
		name: "malformed single", ctype: "application/json",
		body:     `{"channel":`,
		status:   400,
		wantBody: `{"error":"malformed JSON","index":0,"detail":"unexpected end of JSON input"}`,
	},
	{
		name: "malformed array element", ctype: "application/json",
		body:     `[{"channel":"a","type":"t"},{"channel":"a","type":"t"},{"channel":}]`,
		status:   400,
		wantBody: `{"error":"malformed JSON","index":2,"detail":"invalid character '}' looking for beginning of value"}`,
	},
	{
		name: "malformed ndjson line", ctype: ndjsonType,
		body:     "{\"channel\":\"a\",\"type\":\"t\"}\nnot json\n",
		status:   400,
		wantBody: `{"error":"malformed JSON","index":1,"detail":"invalid character 'o' in literal null (expecting 'u')"}`,
	},
	{
		name: "form-encoded body", ctype: "application/x-www-form-urlencoded",
		body:     `channel=a&type=t`,
		status:   400,
		wantBody: `{"error":"malformed JSON","index":0,"detail":"invalid character 'c' looking for beginning of value"}`,
	},
	{
		name: "two concatenated objects", ctype: "application/json",
		body:     `{"channel":"a","type":"t"}{"channel":"a","type":"t"}`,
		status:   400,
		wantBody: `{"error":"malformed JSON","index":1,"detail":"unexpected data after top-level value"}`,
	},
	{
		name: "unclosed array", ctype: "application/json",
		body:     `[{"channel":"a","type":"t"}`,
		status:   400,
		wantBody: `{"error":"malformed JSON","index":1,"detail":"unexpected end of JSON input"}`,
	},
	{name: "empty array", ctype: "application/json", body: `[]`, status: 400, wantBody: `{"error":"no events"}`},
	{name: "empty body", ctype: "application/json", body: ``, status: 400, wantBody: `{"error":"no events"}`},
	{name: "blank ndjson", ctype: ndjsonType, body: "\n \n", status: 400, wantBody: `{"error":"no events"}`},
}

func TestPublish(t *testing.T) {
	for _, tc := range publishCases {
		t.Run(tc.name, func(t *testing.T) {
			s := startUnix(t, Options{})
			r := s.do(t, http.MethodPost, "/v1/publish", tc.ctype, tc.body)
			assertStatus(t, r, tc.status)
			assertJSON(t, r.body, tc.wantBody)
			if got := s.pub.recorded(); !reflect.DeepEqual(got, tc.wantCalls) {
				t.Errorf("published %v, want %v", got, tc.wantCalls)
			}
		})
	}
}

func TestPublishChecksEveryEventFirst(t *testing.T) {
	s := startUnix(t, Options{})
	body := `[{"channel":"a","type":"t"},{"channel":"forbidden","type":"t"},{"channel":"b","type":"t"}]`
	r := s.do(t, http.MethodPost, "/v1/publish", "application/json", body)
	assertStatus(t, r, http.StatusBadRequest)
	if n := s.pub.checks(); n != 3 {
		t.Errorf("CheckEvent called %d times, want 3", n)
	}
	if got := s.pub.recorded(); len(got) != 0 {
		t.Errorf("published %v despite an invalid event", got)
	}
}

func TestPublishBodyTooLarge(t *testing.T) {
	event := `{"channel":"c","type":"t","payload":"` + strings.Repeat("x", 100) + `"}`
	cases := []struct {
		name, ctype, body string
	}{
		{"json", "application/json", event},
		{"array", "application/json", "[" + event + "]"},
		{"ndjson", ndjsonType, event + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startUnix(t, Options{MaxBodyBytes: 64})
			r := s.do(t, http.MethodPost, "/v1/publish", tc.ctype, tc.body)
			assertStatus(t, r, http.StatusRequestEntityTooLarge)
			assertJSON(t, r.body, `{"error":"body too large","limit":64}`)
			if got := s.pub.recorded(); len(got) != 0 {
				t.Errorf("published %v", got)
			}
		})
	}
}

func TestPublishFailureMidway(t *testing.T) {
	cases := []struct {
		name       string
		err        *pubError
		status     int
		retryAfter string
	}{
		{"unavailable", &pubError{msg: "hub closed", unavailable: true}, 503, "1"},
		{"invalid", &pubError{msg: "payload rejected", invalid: true}, 400, ""},
		{"other", &pubError{msg: "boom"}, 500, ""},
		{"outcome unknown", &pubError{msg: "no answer", unavailable: true, unknown: true}, 504, ""},
	}
	body := "[" + strings.Repeat(`{"channel":"c","type":"t"},`, 3) + `{"channel":"c","type":"t"}]`
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakePublisher{failAt: 2, failErr: tc.err}
			s := startUnix(t, Options{Publisher: pub})
			r := s.do(t, http.MethodPost, "/v1/publish", "application/json", body)
			assertStatus(t, r, tc.status)
			want := `{"error":"` + tc.err.msg + `","published":2}`
			if tc.err.unknown {
				want = `{"error":"` + tc.err.msg + `","published":2,"outcome":"unknown"}`
			}
			assertJSON(t, r.body, want)
			if got := r.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if got := len(pub.recorded()); got != 2 {
				t.Errorf("published %d, want 2", got)
			}
		})
	}
}

func TestStats(t *testing.T) {
	s := startUnix(t, Options{})
	r := s.do(t, http.MethodGet, "/v1/stats", "", "")
	assertStatus(t, r, http.StatusOK)
	assertJSON(t, r.body, `{"sessions":3,"channels":["a"]}`)
}

func TestRoutes(t *testing.T) {
	cases := []struct {
		name, method, path string
		status             int
		allow, body        string
	}{
		{"get publish", http.MethodGet, "/v1/publish", 405, "POST", `{"error":"method not allowed"}`},
		{"put publish", http.MethodPut, "/v1/publish", 405, "POST", `{"error":"method not allowed"}`},
		{"post stats", http.MethodPost, "/v1/stats", 405, "GET, HEAD", `{"error":"method not allowed"}`},
		{"unknown path", http.MethodGet, "/v2/nothing", 404, "", `{"error":"not found"}`},
		{"root", http.MethodPost, "/", 404, "", `{"error":"not found"}`},
	}
	s := startUnix(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, "application/json", "{}")
			assertStatus(t, r, tc.status)
			assertJSON(t, r.body, tc.body)
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestNilPublisherPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHandler with nil Publisher did not panic")
		}
	}()
	NewHandler(Options{})
}
