package fanoutd

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/ipc"
)

// TestPublishStreamDaemon drives POST /v1/publish/stream on a real daemon
// through the Go client: acks in send order, positions as /v1/publish
// gives them, an idempotency key repeated in the stream acked as a
// duplicate of the first, and a bad line refused without ending the stream.
func TestPublishStreamDaemon(t *testing.T) {
	d := startDaemon(t)
	c := ipc.NewClient(d.socket)
	defer c.Close()
	var acks []ipc.StreamAck
	st, err := c.Stream(t.Context(), ipc.StreamOptions{Window: 16, OnAck: func(a ipc.StreamAck) { acks = append(acks, a) }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		ev := ipc.Event{Channel: "s", Type: "t", Payload: json.RawMessage(`{"i":1}`)}
		switch i {
		case 10, 20:
			ev.IdempotencyKey = "k-10"
		case 30:
			ev.Channel = "bad channel with spaces and far too long " + string(make([]byte, 300))
		}
		if _, err := st.Send(t.Context(), ev); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	err = st.Close()
	var se *ipc.StreamError
	if !errors.As(err, &se) || se.Failed != 1 || se.First.Index != 30 || se.First.Status != 400 {
		t.Fatalf("Close = %v, want one refusal, at index 30", err)
	}
	if len(acks) != n {
		t.Fatalf("%d acks, want %d", len(acks), n)
	}
	var last uint64
	for i, a := range acks {
		if a.Index != int64(i) {
			t.Fatalf("ack %d has index %d", i, a.Index)
		}
		switch {
		case i == 30:
			continue
		case i == 20:
			if !a.Duplicate || a.Offset != acks[10].Offset {
				t.Errorf("ack 20 = %+v, want a duplicate of ack 10 (%+v)", a, acks[10])
			}
			continue
		case a.Duplicate || a.Offset != last+1 || a.Epoch == "":
			t.Fatalf("ack %d = %+v after offset %d", i, a, last)
		}
		last = a.Offset
	}
	// The same key over /v1/publish is the same event.
	pos, err := c.PublishEvents(t.Context(), []ipc.Event{{Channel: "s", Type: "t", IdempotencyKey: "k-10"}})
	if err != nil || len(pos) != 1 || !pos[0].Duplicate || pos[0].Offset != acks[10].Offset {
		t.Errorf("publish with the stream's key: %+v %v", pos, err)
	}
}

// TestPublishStreamDaemonShutdown: a daemon stopping with a stream open
// acks what it read and ends the stream instead of waiting for the
// publisher, so the stop finishes.
func TestPublishStreamDaemonShutdown(t *testing.T) {
	d := startDaemon(t)
	c := ipc.NewClient(d.socket)
	defer c.Close()
	acked := make(chan struct{}, 1)
	st, err := c.Stream(t.Context(), ipc.StreamOptions{OnAck: func(ipc.StreamAck) { acked <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Send(t.Context(), ipc.Event{Channel: "s", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	<-acked
	stopped := make(chan error, 1)
	go func() { stopped <- d.stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not stop with a stream open")
	}
	_ = st.Close() // the stream has ended; Close only collects its outcome
	if st.Acked() != 1 {
		t.Errorf("acked %d, want 1", st.Acked())
	}
}
