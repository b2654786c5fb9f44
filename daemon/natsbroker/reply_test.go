package natsbroker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/nats-io/nats.go"
)

// TestRoundTripDropsLateAnswers: an answer that comes after its attempt
// gave up must not be taken for the answer to the next attempt on the same
// queue (each attempt has its own reply subject), and a publish nobody
// listens to says so (no responders: nothing was stored).
func TestRoundTripDropsLateAnswers(t *testing.T) {
	n := natstest.Start(t)
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The responder holds its first answer until the second request has
	// come, then answers both, the late one first.
	reqs := make(chan *nats.Msg, 2)
	sub, err := nc.Subscribe("svc", func(m *nats.Msg) { reqs <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	b, _ := newBroker(t, n.URL)
	q := &chanq{name: "c"}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = q.roundTrip(ctx, b.nc, nats.NewMsg("svc"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first attempt: %v, want the deadline", err)
	}
	first := <-reqs

	done := make(chan struct{})
	go func() {
		defer close(done)
		second := <-reqs
		_ = first.Respond([]byte("late"))
		_ = second.Respond([]byte("second"))
	}()
	r, err := q.roundTrip(testCtx(t), b.nc, nats.NewMsg("svc"))
	<-done
	if err != nil || string(r.Data) != "second" {
		t.Fatalf("second attempt: %v %v, want the answer %q", r, err, "second")
	}

	_, err = q.roundTrip(testCtx(t), b.nc, nats.NewMsg("nobody"))
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("publish nobody listens to: %v, want no responders", err)
	}
	q.closeReplies()
}
