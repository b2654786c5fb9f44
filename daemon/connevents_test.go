package daemon

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConnEventLines: the ring keeps records and encodes a line when a
// stream reads it; the lines are exactly the NDJSON the stream always
// wrote (sequence, epoch, time to the nanosecond in UTC, the user quoted,
// a channel for (un)subscribes, a code for disconnects), and a ring
// smaller than the events keeps the latest with their numbers.
func TestConnEventLines(t *testing.T) {
	at := time.Date(2026, 12, 4, 22, 30, 1, 123456789, time.FixedZone("x", 3600))
	n := New(Options{Frame: func(m []byte) []byte { return m }, Now: func() time.Time { return at }, ConnEventsBuffer: 3})
	s, ft := connect(t, n, `al"ice`, "room:*")
	subscribe(t, s, ft, "room:1")
	roundTrip(t, s, ft, `{"action":"unsubscribe","channel":"room:1"}`)
	s.Closed(1001)
	n.CloseConnEvents()
	var got []string
	if err := n.StreamConnEvents(context.Background(), 0, "", func(l []byte) error { got = append(got, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	ep, id := n.prefix, s.ID()
	head := func(seq int, typ string) string {
		return `{"seq":` + strconv.Itoa(seq) + `,"epoch":"` + ep + `","time":"2026-12-04T21:30:01.123456789Z","type":"` + typ +
			`","connection_id":"` + id + `","user":"al\"ice"`
	}
	want := []string{
		head(2, "subscribe") + `,"channel":"room:1"}` + "\n",
		head(3, "unsubscribe") + `,"channel":"room:1"}` + "\n",
		head(4, "disconnect") + `,"code":1001}` + "\n",
	}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, ""), strings.Join(want, ""))
	}
	st := n.connEvents.export()
	if st.Next != 5 || len(st.Lines) != 3 || string(st.Lines[2])+"\n" != want[2] {
		t.Errorf("export = next %d, %d lines, last %s", st.Next, len(st.Lines), st.Lines[len(st.Lines)-1])
	}
}

// TestConnEventsAddAllocatesNothingUnwatched: with no stream following the
// log, recording an event (two per connection: connect and subscribe)
// allocates nothing; a stream that waits is still woken by the next one.
func TestConnEventsAddAllocatesNothingUnwatched(t *testing.T) {
	c := newConnEvents(16, "e")
	now := time.Now()
	e := connEvent{typ: connConnect, conn: "c1", user: "u"}
	if a := testing.AllocsPerRun(100, func() { c.add(e, now) }); a != 0 {
		t.Fatalf("add allocates %.0f times per event with no stream waiting", a)
	}
	_, _, _, _, _, wait, _ := c.read(0, "e", nil)
	c.add(e, now)
	select {
	case <-wait:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting stream was not woken by the next event")
	}
}
