package netpoll

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDropOldestNoticesStayBounded: a stalled drop-oldest client under a
// publish rate far above what it reads. Each drop is followed by a notice
// the way the core sends one. The queue stays within its bound in frames
// as well as bytes (one pending notice, not one per drop), and when the
// client reads again it gets the surviving events and a handful of notices
// (one per write that found one waiting before the socket filled, plus the
// one pending), whose counts add up to every drop.
func TestDropOldestNoticesStayBounded(t *testing.T) {
	const bound, size, events = 64 << 10, 1 << 10, 5000
	_, h, addr := startServer(t, Options{WriteQueueBytes: bound, PingInterval: time.Hour})
	cl, c := connectStalling(t, h, addr)
	pub := &publisher{t: t, c: c}
	dropped, maxFrames := 0, 0
	for sent := range events {
		if d := pub.event(eventFrame(1, sent, size), 1, PolicyDropOldest); d > 0 {
			dropped += d
			pub.missed(d)
		}
		pub.flush()
		q := snapshot(pub.c)
		checkBound(t, &q, bound, missedRoom, false)
		maxFrames = max(maxFrames, len(q.out))
	}
	// Frames a worker is writing stay queued until the write returns and
	// count beside the bound (checkBound's 2*bound): one bound of waiting
	// frames, one being written, and the merged notice. Before notices were
	// merged a stalled client held thousands here.
	if maxFrames > 2*bound/size+4 {
		t.Fatalf("the queue held up to %d frames for a bound of %d frames of events (and as many being written)", maxFrames, bound/size)
	}
	pub.text("end")
	pub.flush()
	got, texts := readToEnd(t, cl, size)
	told := 0
	for _, s := range texts {
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(s, "missed ")))
		if err != nil {
			t.Fatalf("text %q", s)
		}
		told += n
	}
	if len(texts) > 5 || told != dropped || len(got)+dropped != events {
		t.Fatalf("%d notices saying %d missed, %d dropped, %d events read of %d", len(texts), told, dropped, len(got), events)
	}
}

// missed queues the notice for d dropped events as the core does.
func (p *publisher) missed(d int) {
	p.t.Helper()
	ok, first := p.c.QueueMissed(d, func(total int) []byte { return TextFrame([]byte(fmt.Sprint("missed ", total))) })
	if !ok {
		p.t.Fatal("notice refused")
	}
	p.first = p.first || first
}

// TestAddMissedMergesInPlace: drops under a steady stream of events leave
// one notice, whose count is every drop, ahead of the events that came
// after the oldest of them.
func TestAddMissedMergesInPlace(t *testing.T) {
	const bound, size = 10 << 10, 1 << 10
	var q writeQueue
	build := func(total int) []byte { return TextFrame([]byte(fmt.Sprint("missed ", total))) }
	dropped := 0
	for i := range 1000 {
		e := newEntry(eventFrame(1, i, size), 1, PolicyDropOldest)
		ok, d, _ := q.add(e, bound)
		if !ok {
			t.Fatalf("event %d refused", i)
		}
		if d > 0 {
			dropped += d
			if !q.addMissed(d, build, bound) {
				t.Fatalf("notice refused after event %d", i)
			}
		}
		if int(q.bytes) > bound+missedRoom {
			t.Fatalf("%d bytes queued for a bound of %d", q.bytes, bound)
		}
	}
	notices := 0
	for i, e := range q.out {
		if e.notice {
			notices++
			if i != 0 || int(e.count) != dropped || string(Payload(e.b)) != fmt.Sprint("missed ", dropped) {
				t.Fatalf("notice at %d: %q (count %d), want the first frame saying %d", i, Payload(e.b), e.count, dropped)
			}
		}
	}
	if notices != 1 || len(q.out) > bound/size+1 {
		t.Fatalf("%d notices in %d frames", notices, len(q.out))
	}
}

// BenchmarkDropOldestWithNotices: one op is an event queued to a full
// drop-oldest queue, which drops the oldest, plus its missed notice, merged
// into the waiting one. The cost per op stays flat however long it runs:
// the queue holds the bound's worth of events and one notice.
func BenchmarkDropOldestWithNotices(b *testing.B) {
	const bound, size = 64 << 10, 1 << 10
	frame := eventFrame(1, 0, size)
	notice := TextFrame([]byte("missed"))
	build := func(int) []byte { return notice }
	var q writeQueue
	b.ReportAllocs()
	for b.Loop() {
		ok, d, _ := q.add(newEntry(frame, 1, PolicyDropOldest), bound)
		if !ok {
			b.Fatal("refused")
		}
		if d > 0 && !q.addMissed(d, build, bound) {
			b.Fatal("notice refused")
		}
	}
	if len(q.out) > bound/size+1 {
		b.Fatalf("%d frames queued", len(q.out))
	}
}
