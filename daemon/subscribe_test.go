package daemon

import (
	"errors"
	"testing"
)

func TestSubscribeWithoutCommands(t *testing.T) {
	n := historyNode(nil, 100, 0)
	s, ft := connect(t, n, "u", "p:*")
	if err := s.Subscribe("p:1", nil); err != nil {
		t.Fatal(err)
	}
	r := ft.only(t)
	if r.str(t, "type") != "subscribed" || r.rawField("recovered") != "" {
		t.Fatalf("reply %v, want subscribed without recovered", r)
	}
	epoch := r.str(t, "epoch")
	publishN(t, n, "p:1", 3)
	ft.take(t)

	s2, ft2 := connect(t, n, "u", "p:*")
	if err := s2.Subscribe("p:1", &Position{Offset: 1, Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	msgs := ft2.take(t)
	if len(msgs) != 3 || msgs[0].rawField("recovered") != "true" {
		t.Fatalf("resume: %v, want subscribed (recovered) and offsets 2, 3", msgs)
	}
	if got := offsets(t, msgs, epoch); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("replayed offsets %v, want [2 3]", got)
	}

	for name, tc := range map[string]struct {
		channel string
		err     error
		code    string
	}{
		"forbidden": {"q:1", ErrForbidden, "forbidden"},
		"invalid":   {"p:a b", ErrInvalidChannel, "invalid_channel"},
	} {
		err := s2.Subscribe(tc.channel, nil)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.err)
		}
		r := ft2.only(t)
		if r.str(t, "type") != "unsubscribed" || r.str(t, "channel") != tc.channel || r.str(t, "code") != tc.code {
			t.Errorf("%s: frame %v, want unsubscribed %s with code %s", name, r, tc.channel, tc.code)
		}
	}
}
