package sse

import (
	"testing"

	"github.com/fanoutd/fanoutd/daemon"
)

// TestSSELastEventIDRoundTrip: what a stream writes as its id, a reconnecting
// client sends back as Last-Event-ID and resumes every channel from.
func TestSSELastEventIDRoundTrip(t *testing.T) {
	var p positions
	p.set("project:a", daemon.Position{Offset: 0, Epoch: "e1"})
	p.set("project:b", daemon.Position{Offset: 7, Epoch: "e2"})
	if p.set("project:b", daemon.Position{Offset: 7, Epoch: "e2"}) {
		t.Error("setting the same position reported a change")
	}
	p.set("gone", daemon.Position{Offset: 1, Epoch: "e3"})
	if !p.remove("gone") || p.remove("gone") {
		t.Error("remove: want true once, then false")
	}
	id := string(p.appendID(nil))
	if id != "project:a 0 e1 project:b 7 e2" {
		t.Fatalf("id %q", id)
	}
	got, err := daemon.ParsePositions(id)
	if err != nil || len(got) != 2 || got["project:a"] != (daemon.Position{Offset: 0, Epoch: "e1"}) ||
		got["project:b"] != (daemon.Position{Offset: 7, Epoch: "e2"}) {
		t.Fatalf("parsed %v, %v", got, err)
	}
}

// TestSSELastEventIDEmptyEpoch: a channel a broker has numbered nothing in
// has an empty epoch; the id a stream writes for it must read back, or an
// EventSource reconnecting with it is refused 400.
func TestSSELastEventIDEmptyEpoch(t *testing.T) {
	var p positions
	p.set("project:new", daemon.Position{Offset: 0, Epoch: ""})
	p.set("project:b", daemon.Position{Offset: 7, Epoch: "e2"})
	id := string(p.appendID(nil))
	got, err := daemon.ParsePositions(id)
	if err != nil || got["project:new"] != (daemon.Position{}) || got["project:b"] != (daemon.Position{Offset: 7, Epoch: "e2"}) {
		t.Fatalf("id %q parsed %v, %v", id, got, err)
	}
}
