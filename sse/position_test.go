package sse

import (
	"errors"
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
	got, err := parseLastEventID(id)
	if err != nil || len(got) != 2 || got["project:a"] != (daemon.Position{Offset: 0, Epoch: "e1"}) ||
		got["project:b"] != (daemon.Position{Offset: 7, Epoch: "e2"}) {
		t.Fatalf("parsed %v, %v", got, err)
	}
}

func TestSSELastEventIDMalformed(t *testing.T) {
	for _, id := range []string{"a", "a 1", "a x e", "a -1 e", "a 1 e b", "a 18446744073709551616 e"} {
		if _, err := parseLastEventID(id); !errors.Is(err, errLastEventID) {
			t.Errorf("%q: %v, want errLastEventID", id, err)
		}
	}
	if got, err := parseLastEventID(""); err != nil || len(got) != 0 {
		t.Errorf(`"": %v, %v; want no position`, got, err)
	}
}

// FuzzLastEventID: any header either is refused or parses into positions
// whose id parses back to the same positions.
func FuzzLastEventID(f *testing.F) {
	for _, s := range []string{"", "project:a 0 e1 project:b 7 e2", "a x e", "a 1", " a  1\te "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, err := parseLastEventID(id)
		if err != nil {
			return
		}
		var p positions
		for ch, pos := range got {
			p.set(ch, pos)
		}
		again, err := parseLastEventID(string(p.appendID(nil)))
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: parsed %v, its id parses to %v, %v", id, got, again, err)
		}
		for ch, pos := range got {
			if again[ch] != pos {
				t.Fatalf("%q: %s at %v, then %v", id, ch, pos, again[ch])
			}
		}
	})
}
