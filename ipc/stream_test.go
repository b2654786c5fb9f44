package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPublishStreamAcks: every non-blank line gets one ack, in order; bad
// lines (malformed, invalid, refused, too long) get an error ack and the
// stream goes on.
func TestPublishStreamAcks(t *testing.T) {
	s := startUnix(t, Options{MaxBodyBytes: 64})
	body := strings.Join([]string{
		`{"channel":"a","type":"t","payload":{"n":1}}`,
		``,
		`not json`,
		`{"channel":"a"}`,
		`{"channel":"forbidden","type":"t"}`,
		`{"channel":"a","type":"t","payload":"` + strings.Repeat("x", 80) + `"}`,
		`{"Channel":"b","type":"t\u0031"}`,
		`{"channel":"a","type":"t","x":1}`,
		`{"channel":"a","type":"t","idempotency_key":"k"}`,
	}, "\n")
	r := s.do(t, http.MethodPost, "/v1/publish/stream", ndjsonType, body)
	if r.status != 200 || r.header.Get("Content-Type") != ndjsonType {
		t.Fatalf("status %d %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	want := []string{
		`{"index":0,"channel":"a","offset":1,"epoch":"e1"}`,
		`{"index":1,"status":400,"error":"malformed JSON: invalid character 'o' in literal null (expecting 'u')"}`,
		`{"index":2,"status":400,"error":"missing \"type\""}`,
		`{"index":3,"status":400,"error":"channel not allowed"}`,
		`{"index":4,"status":413,"error":"line longer than 64 bytes"}`,
		`{"index":5,"channel":"b","offset":1,"epoch":"e1"}`,
		`{"index":6,"status":400,"error":"unknown field \"x\""}`,
		`{"index":7,"channel":"a","offset":2,"epoch":"e1"}`,
	}
	got := strings.Split(strings.TrimSpace(r.body), "\n")
	if len(got) != len(want) {
		t.Fatalf("acks:\n%s\nwant %d", r.body, len(want))
	}
	for i := range want {
		assertJSON(t, got[i], want[i])
	}
	if k := s.pub.keys; len(k) != 3 || k[2] != "k" {
		t.Errorf("keys = %q, want the idempotency key on the third publish", k)
	}
}

// TestPublishStreamPublishFailure: a publish error is that line's ack
// with /v1/publish's status, and the next lines are still tried (the fake
// keeps failing once it has started).
func TestPublishStreamPublishFailure(t *testing.T) {
	pub := &fakePublisher{failAt: 1, failErr: &pubError{msg: "hub closed", unavailable: true}}
	s := startUnix(t, Options{Publisher: pub})
	body := strings.Repeat(`{"channel":"c","type":"t"}`+"\n", 3)
	r := s.do(t, http.MethodPost, "/v1/publish/stream", ndjsonType, body)
	got := strings.Split(strings.TrimSpace(r.body), "\n")
	want := []string{
		`{"index":0,"channel":"c","offset":1,"epoch":"e1"}`,
		`{"index":1,"status":503,"error":"hub closed"}`,
		`{"index":2,"status":503,"error":"hub closed"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("acks:\n%s", r.body)
	}
	for i := range want {
		assertJSON(t, got[i], want[i])
	}
}

// TestPublishStreamPipelined: acks arrive while the body is still open, so
// a publisher can wait for one before sending the next.
func TestPublishStreamPipelined(t *testing.T) {
	s := startUnix(t, Options{})
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.base+"/v1/publish/stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.WriteString(pw, `{"channel":"c","type":"t"}`+"\n") }()
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
		var ack StreamAck
		if err := json.Unmarshal([]byte(line), &ack); err != nil || ack.Index != int64(i) || ack.Offset != uint64(i+1) {
			t.Fatalf("ack %d = %q (%v)", i, line, err)
		}
		if i < 2 {
			go func() { _, _ = io.WriteString(pw, `{"channel":"c","type":"t"}`+"\n") }()
		}
	}
	_ = pw.Close()
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("after the last ack: %q", rest)
	}
}

// TestPublishStreamShutdown: Shutdown ends an open stream after acking
// what it read, instead of waiting for the publisher.
func TestPublishStreamShutdown(t *testing.T) {
	path := t.TempDir() + "/s"
	ln, err := ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(NewHandler(Options{Publisher: &fakePublisher{}}), nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	c := NewClient(path)
	defer c.Close()
	st, err := c.Stream(t.Context(), StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Send(t.Context(), Event{Channel: "c", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for st.ackedSoFar() < 1 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	<-done
	_ = st.Close()
	if st.Acked() != 1 {
		t.Errorf("acked %d, want 1", st.Acked())
	}
}

// TestClientStream: the Go client's stream, with backpressure (a window
// of 8 for 500 events) and acks in order through OnAck.
func TestClientStream(t *testing.T) {
	s := startUnix(t, Options{})
	c := NewClient(s.path)
	defer c.Close()
	var acks []StreamAck
	st, err := c.Stream(t.Context(), StreamOptions{Window: 8, OnAck: func(a StreamAck) { acks = append(acks, a) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		ev := Event{Channel: "c", Type: "t", Payload: json.RawMessage("{\n\"i\": " + strings.Repeat("1", i%3+1) + "}")}
		if i == 250 {
			ev.Type = ""
		}
		if n, err := st.Send(t.Context(), ev); err != nil || n != int64(i) {
			t.Fatalf("send %d: %d %v", i, n, err)
		}
	}
	err = st.Close()
	var se *StreamError
	if !asStreamError(err, &se) || se.Failed != 1 || se.First.Index != 250 || se.First.Status != 400 {
		t.Fatalf("Close = %v, want one refusal at 250", err)
	}
	if len(acks) != 500 {
		t.Fatalf("%d acks", len(acks))
	}
	for i, a := range acks {
		if a.Index != int64(i) {
			t.Fatalf("ack %d has index %d", i, a.Index)
		}
	}
	if got := s.pub.recorded(); len(got) != 499 || got[0].Payload != `{"i":1}` {
		t.Errorf("published %d, first %v", len(got), got[0])
	}
}

func asStreamError(err error, out **StreamError) bool {
	se, ok := err.(*StreamError)
	*out = se
	return ok
}

// TestClientStreamRefused: a stream the daemon refuses outright (here the
// peer check) is an *APIError from Stream, not a stream.
func TestClientStreamRefused(t *testing.T) {
	s := startUnix(t, Options{PeerUIDs: []int{1 << 30}})
	c := NewClient(s.path)
	defer c.Close()
	st, err := c.Stream(t.Context(), StreamOptions{})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || st != nil {
		t.Fatalf("Stream = %v, %v; want a 403 APIError", st, err)
	}
}
