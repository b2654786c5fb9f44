package natsbroker

import (
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/natstest"
)

// TestStreamDeletedUnderANodeMovesItOn: the stream is deleted (by an
// operator, say) and another node recreates it at once. A node that was
// publishing keeps the channel's last position in hand (positionTTL), and
// when the recreated stream's last sequence for the channel happens to
// equal the one it keeps, its compare-and-set succeeds: it stored the
// event in its old epoch, behind the other node's new chain, and a client
// resuming from that epoch would never learn of the other node's event.
// The node must hear of the deletion (JetStream's advisory) and number
// its next publish after what the stream holds.
func TestStreamDeletedUnderANodeMovesItOn(t *testing.T) {
	n := natstest.Start(t)
	ctx := testCtx(t)
	frozen := time.Now()
	a, err := New(Options{URL: n.URL, Timeout: time.Second, Now: func() time.Time { return frozen }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	a.Start(&recorder{})
	for i := range 3 { // stream sequences 1, 2, 3: the channel's last is 3
		if _, _, _, err := a.Publish(ctx, "c", "t", []byte{'a', byte('0' + i)}, ""); err != nil {
			t.Fatal(err)
		}
	}

	js := natstest.JetStream(t, n.URL)
	if err := js.DeleteStream(ctx, "FANOUTD"); err != nil {
		t.Fatal(err)
	}
	// The other node recreates the stream; its third message is the
	// channel's, a new chain at sequence 3.
	b, _ := newBroker(t, n.URL)
	for _, ch := range []string{"x", "y"} {
		if _, _, _, err := b.Publish(ctx, ch, "t", []byte("b"), ""); err != nil {
			t.Fatal(err)
		}
	}
	offB, epochB, _, err := b.Publish(ctx, "c", "t", []byte("b"), "")
	if err != nil || offB != 1 {
		t.Fatalf("the other node's first event of c: offset %d, %v", offB, err)
	}

	// Give the deletion's advisory a moment to reach the node (bounded).
	for i := 0; i < 100 && a.NotReady() == ""; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	off, epoch, _, err := a.Publish(ctx, "c", "t", []byte("a3"), "")
	if err != nil {
		t.Fatal(err)
	}
	if epoch != epochB || off != offB+1 {
		t.Fatalf("after the stream was recreated the node published at %s/%d; the stream's chain for c is %s/%d, so want %s/%d",
			epoch, off, epochB, offB, epochB, offB+1)
	}
}

// TestStreamDeletedAgainAndAgainHeals: an operator deletes the stream
// while two nodes use it; both hear JetStream's advisory and recreate it.
// A creation that races with the end of the deletion leaves nats-server
// with a broken stream (deletionSettle), which answers no publish: before
// the fix, every publish after the first few deletions timed out, for good.
// A publish after each deletion must succeed within a few tries (one in
// flight at the deletion may be answered outcome unknown).
// Bounded: 15 deletions, at most 6 tries of 500 ms each per deletion.
func TestStreamDeletedAgainAndAgainHeals(t *testing.T) {
	n := natstest.Start(t)
	ctx := testCtx(t)
	a, _ := newBroker(t, n.URL)
	b, _ := newBroker(t, n.URL)
	js := natstest.JetStream(t, n.URL)
	for i := range 15 {
		for _, node := range []*Broker{a, b} {
			var err error
			for try := 0; try < 6; try++ {
				if _, _, _, err = node.Publish(ctx, "c", "t", []byte("x"), ""); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("deletion %d: no publish stored in 6 tries; the last: %v", i, err)
			}
		}
		if err := js.DeleteStream(ctx, "FANOUTD"); err != nil {
			t.Fatalf("deletion %d: %v", i, err)
		}
	}
}
