package daemon

import (
	"slices"
	"testing"
)

// An event of a numbering the channel has left (the broker lost its data
// and numbers from 1 again) can reach a node after events of the new one:
// the NATS broker's catch-up after a stream loss runs on its own goroutine
// while the subscription still delivers what it received before the loss.
// Such a late event must not take the channel back to the old numbering:
// the next event of the new one would then fill the "gap" from its offset 0
// and deliver the events already delivered a second time.
func TestLateEventOfARetiredEpochDeliversNothingTwice(t *testing.T) {
	hub := newBrokerHub(t)
	a := brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	publishN(t, a, "p:1", 3)
	if ev, _ := eventOffsets(t, ft.take(t)); !slices.Equal(ev, seqOf("e1", 1, 3)) {
		t.Fatalf("before: %v", ev)
	}

	hub.restart("p:1", "e2")
	hub.publish("p:1", "t", nil) // e2/1: the subscriber is told of the loss
	a.Deliver("p:1", BrokerEvent{Offset: 4, Epoch: "e1", Type: "t"})
	hub.publish("p:1", "t", nil) // e2/2
	hub.publish("p:1", "t", nil) // e2/3

	wantNewEpochOnce(t, ft)
	s.Closed(1000)
}

// The same after a catch-up (Resync) took the channel to the new numbering.
func TestLateEventAfterResyncDeliversNothingTwice(t *testing.T) {
	hub := newBrokerHub(t)
	a := brokerNode(hub)
	s, ft := connect(t, a, "u", "*")
	subscribe(t, s, ft, "p:1")
	publishN(t, a, "p:1", 2)
	ft.reset()

	hub.mu.Lock()
	subs := hub.channel("p:1").subs
	hub.channel("p:1").subs = map[*Node]int{} // the link is down meanwhile
	hub.mu.Unlock()
	hub.restart("p:1", "e2")
	hub.publish("p:1", "t", nil)
	hub.publish("p:1", "t", nil)
	hub.mu.Lock()
	hub.channel("p:1").subs = subs
	hub.mu.Unlock()
	a.Resync() // e2/1..2, after a missed notice
	a.Deliver("p:1", BrokerEvent{Offset: 3, Epoch: "e1", Type: "t"})
	hub.publish("p:1", "t", nil)

	wantNewEpochOnce(t, ft)
	s.Closed(1000)
}

// wantNewEpochOnce checks what ft received after the broker's loss: one
// missed notice and e2/1..3, each once.
func wantNewEpochOnce(t *testing.T, ft *fakeTransport) {
	t.Helper()
	ev, others := eventOffsets(t, ft.take(t))
	if !slices.Equal(ev, seqOf("e2", 1, 3)) {
		t.Errorf("after the loss: events %v, want e2/1..3 once each", ev)
	}
	if !slices.Equal(others, []string{"missed"}) {
		t.Errorf("after the loss: other frames %v, want one missed notice", others)
	}
}
