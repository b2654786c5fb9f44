package ipc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func newTestClient(t *testing.T, s *testServer) *Client {
	t.Helper()
	c := NewClient(s.path)
	t.Cleanup(c.Close)
	return c
}

func TestClientPublish(t *testing.T) {
	cases := []struct {
		name    string
		payload any
		want    string
	}{
		{"map", map[string]int{"a": 1}, `{"a":1}`},
		{"raw message", json.RawMessage(`[1, 2]`), `[1,2]`},
		{"bytes of JSON", []byte(`"hi"`), `"hi"`},
		{"nil", nil, noPayload},
		{"empty raw message", json.RawMessage(nil), noPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startUnix(t, Options{})
			c := newTestClient(t, s)
			if err := c.Publish(t.Context(), "c", "t", tc.payload); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			want := []call{{"c", "t", tc.want}}
			if got := s.pub.recorded(); !reflect.DeepEqual(got, want) {
				t.Errorf("published %v, want %v", got, want)
			}
		})
	}
}

func TestClientPublishInvalidPayload(t *testing.T) {
	s := startUnix(t, Options{})
	c := newTestClient(t, s)
	for _, p := range []any{[]byte("{nope"), json.RawMessage("nope"), make(chan int)} {
		if err := c.Publish(t.Context(), "c", "t", p); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("Publish(%T): err = %v, want ErrInvalidPayload", p, err)
		}
	}
	if got := s.pub.recorded(); len(got) != 0 {
		t.Errorf("published %v", got)
	}
}

func TestClientPublishBatch(t *testing.T) {
	s := startUnix(t, Options{})
	c := newTestClient(t, s)
	events := []Event{
		{Channel: "a", Type: "1", Payload: json.RawMessage(`{"n":1}`)},
		{Channel: "b", Type: "2"},
		{Channel: "a", Type: "3", Payload: json.RawMessage(`3`)},
	}
	n, err := c.PublishBatch(t.Context(), events)
	if err != nil || n != 3 {
		t.Fatalf("PublishBatch = %d, %v; want 3, nil", n, err)
	}
	want := []call{{"a", "1", `{"n":1}`}, {"b", "2", noPayload}, {"a", "3", "3"}}
	if got := s.pub.recorded(); !reflect.DeepEqual(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
	if n, err := c.PublishBatch(t.Context(), nil); n != 0 || err != nil {
		t.Errorf("empty batch = %d, %v; want 0, nil", n, err)
	}
}

func TestClientAPIErrors(t *testing.T) {
	cases := []struct {
		name   string
		pub    *fakePublisher
		events []Event
		want   APIError
		text   string
	}{
		{
			name:   "invalid event",
			pub:    &fakePublisher{},
			events: []Event{{Channel: "a", Type: "t"}, {Channel: "a"}, {Channel: "forbidden", Type: "t"}},
			want: APIError{Status: 400, Message: "invalid event", Events: []InvalidEvent{
				{Index: 1, Reason: `missing "type"`}, {Index: 2, Reason: "channel not allowed"},
			}},
			text: `ipc: 400 Bad Request: invalid event: event 1: missing "type" (and 1 more)`,
		},
		{
			name:   "unavailable midway",
			pub:    &fakePublisher{failAt: 2, failErr: &pubError{msg: "hub closed", unavailable: true}},
			events: []Event{{Channel: "a", Type: "t"}, {Channel: "a", Type: "t"}, {Channel: "a", Type: "t"}},
			want:   APIError{Status: 503, Message: "hub closed", Published: 2},
			text:   "ipc: 503 Service Unavailable: hub closed (2 published)",
		},
		{
			name:   "outcome unknown midway",
			pub:    &fakePublisher{failAt: 1, failErr: &pubError{msg: "no answer", unavailable: true, unknown: true}},
			events: []Event{{Channel: "a", Type: "t"}, {Channel: "a", Type: "t"}},
			want:   APIError{Status: 504, Message: "no answer", Published: 1, Outcome: "unknown"},
			text:   "ipc: 504 Gateway Timeout: no answer (1 published)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startUnix(t, Options{Publisher: tc.pub})
			c := newTestClient(t, s)
			n, err := c.PublishBatch(t.Context(), tc.events)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if !reflect.DeepEqual(*apiErr, tc.want) {
				t.Errorf("APIError = %+v, want %+v", *apiErr, tc.want)
			}
			if n != tc.want.Published {
				t.Errorf("n = %d, want %d", n, tc.want.Published)
			}
			if err.Error() != tc.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.text)
			}
			if apiErr.OutcomeUnknown() != (tc.want.Status == 504) {
				t.Errorf("OutcomeUnknown() = %v", apiErr.OutcomeUnknown())
			}
			if apiErr.Unavailable() != (tc.want.Status == 503) {
				t.Errorf("Unavailable() = %v", apiErr.Unavailable())
			}
		})
	}
}

func TestClientStats(t *testing.T) {
	s := startUnix(t, Options{})
	got, err := newTestClient(t, s).Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sessions": float64(3), "channels": []any{"a"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Stats = %v, want %v", got, want)
	}
}

func TestTCPClient(t *testing.T) {
	s := startTCP(t, Options{APIKey: "k"})
	good := NewTCPClient(s.base+"/", "k")
	defer good.Close()
	if err := good.Publish(t.Context(), "c", "t", nil); err != nil {
		t.Fatalf("Publish with key: %v", err)
	}
	bad := NewTCPClient(s.base, "wrong")
	defer bad.Close()
	err := bad.Publish(t.Context(), "c", "t", nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Message != "unauthorized" {
		t.Fatalf("Publish with wrong key: %v", err)
	}
	if got := len(s.pub.recorded()); got != 1 {
		t.Errorf("published %d, want 1", got)
	}
}

func TestNewAPIErrorNonJSONBody(t *testing.T) {
	e := newAPIError(502, []byte("<html>bad gateway</html>\n"))
	if e.Status != 502 || e.Message != "<html>bad gateway</html>" {
		t.Errorf("got %+v", e)
	}
	if e := newAPIError(500, nil); e.Message != "Internal Server Error" {
		t.Errorf("empty body message = %q", e.Message)
	}
	if e := newAPIError(400, []byte(`{"error":"malformed JSON","index":0,"detail":"x"}`)); !strings.HasSuffix(e.Message, ": x") {
		t.Errorf("detail not kept: %q", e.Message)
	}
}
