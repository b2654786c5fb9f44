package netpoll

import (
	"bytes"
	"syscall"
	"testing"
	"time"
)

// qf is a test frame: size bytes of id, so that a queue reads as a string
// of ids and a torn or swapped frame shows.
type qf struct {
	id     byte
	size   int
	key    uint64
	policy int
}

func (f qf) entry() entry { return newEntry(bytes.Repeat([]byte{f.id}, f.size), f.key, f.policy) }

func queueOf(frames ...qf) *writeQueue {
	q := &writeQueue{}
	for _, f := range frames {
		q.push(f.entry())
	}
	return q
}

// ids lists the queued frames by id.
func (q *writeQueue) ids() string {
	s := make([]byte, len(q.out))
	for i, e := range q.out {
		s[i] = e.b[0]
	}
	return string(s)
}

// checkBytes fails unless bytes is what the entries hold minus the written
// part of the head.
func checkBytes(t *testing.T, q *writeQueue) {
	t.Helper()
	sum := -int(q.head)
	for _, e := range q.out {
		sum += len(e.b)
	}
	if int(q.bytes) != sum {
		t.Fatalf("bytes = %d, the entries hold %d", q.bytes, sum)
	}
}

func TestQueueConsumeCountsPartialWrites(t *testing.T) {
	q := queueOf(qf{id: 'a', size: 10}, qf{id: 'b', size: 20}, qf{id: 'c', size: 30})
	var iov [64]syscall.Iovec
	if n, total := q.fill(iov[:]); n != 3 || total != 60 || q.keep != 3 {
		t.Fatalf("fill = %d iovecs, %d bytes, keep %d", n, total, q.keep)
	}
	q.consume(15) // a, then 5 bytes of b
	if q.ids() != "bc" || q.head != 5 || q.keep != 1 {
		t.Fatalf("queue %q head %d keep %d", q.ids(), q.head, q.keep)
	}
	checkBytes(t, q)
	if n, total := q.fill(iov[:]); n != 2 || total != 45 || iov[0].Len != 15 {
		t.Fatalf("fill after a partial write = %d iovecs, %d bytes, first %d", n, total, iov[0].Len)
	}
	q.consume(0) // EAGAIN: the partly written frame stays fixed, the rest is free
	if q.keep != 1 {
		t.Fatalf("keep after EAGAIN = %d", q.keep)
	}
	q.fill(iov[:])
	q.consume(45)
	if !q.empty() || q.bytes != 0 || q.head != 0 || q.keep != 0 {
		t.Fatalf("drained queue: %+v", *q)
	}
}

func TestQueueFillFixesNoMoreThanIovecsHold(t *testing.T) {
	q := queueOf(qf{id: 'a', size: 1}, qf{id: 'b', size: 1}, qf{id: 'c', size: 1})
	var iov [2]syscall.Iovec
	if n, _ := q.fill(iov[:]); n != 2 || q.keep != 2 {
		t.Fatalf("fill = %d iovecs, keep %d", n, q.keep)
	}
}

// TestQueueCutKeepsFramesBeingWritten: an overflow while writev runs must
// leave the frames writev points at, or the bytes it reports would be
// taken from the close frame.
func TestQueueCutKeepsFramesBeingWritten(t *testing.T) {
	q := queueOf(qf{id: 'a', size: 10}, qf{id: 'b', size: 10})
	var iov [64]syscall.Iovec
	q.fill(iov[:])
	q.push(qf{id: 'x', size: 10}.entry())
	q.cut()
	q.push(entry{b: []byte("close")})
	q.consume(20)
	if q.ids() != "c" || q.bytes != 5 {
		t.Fatalf("after cut and consume: %q, %d bytes", q.ids(), q.bytes)
	}
}

// TestQueueConsumeReportsTheOldestFinishedEvent: the latency sample is
// the earliest publish among the event frames a write finished, never one
// only partly written, never a frame without a time.
func TestQueueConsumeReportsTheOldestFinishedEvent(t *testing.T) {
	q := queueOf(qf{id: 'a', size: 10}, qf{id: 'b', size: 10}, qf{id: 'c', size: 10}, qf{id: 'd', size: 10})
	q.out[1].at, q.out[2].at, q.out[3].at = 300, 200, 100 // a is a reply: no time
	var iov [64]syscall.Iovec
	q.fill(iov[:])
	if _, oldest := q.consume(25); oldest != 300 {
		t.Fatalf("a and b written, c begun: oldest %d, want b's 300", oldest)
	}
	q.fill(iov[:])
	if _, oldest := q.consume(4); oldest != 0 {
		t.Fatalf("c still partly written: oldest %d, want none", oldest)
	}
	q.fill(iov[:])
	if _, oldest := q.consume(11); oldest != 100 {
		t.Fatalf("c and d finished: oldest %d, want d's 100", oldest)
	}
}

// TestQueueTrim: trim lets go of the array of a queue that stayed empty for
// a whole interval between two calls, and of no other.
func TestQueueTrim(t *testing.T) {
	var q writeQueue
	q.push(qf{id: 'a', size: 1}.entry())
	q.trim()
	if q.out == nil {
		t.Fatal("trimmed a queue holding a frame")
	}
	q.consume(1)
	q.trim()
	if q.out == nil {
		t.Fatal("trimmed a queue as soon as it drained")
	}
	q.push(qf{id: 'b', size: 1}.entry())
	q.consume(1)
	q.trim()
	if q.out == nil {
		t.Fatal("trimmed a queue written since the last trim")
	}
	q.trim()
	if q.out != nil {
		t.Fatal("an idle queue kept its array")
	}
	q.push(qf{id: 'c', size: 1}.entry())
	if got := q.unwritten(); string(got) != "c" {
		t.Fatalf("queue after a trim holds %q", got)
	}
}

// TestIdleConnQueueTrimmed: the sweeper makes the write queue of a
// connection that is no longer written give back its array.
func TestIdleConnQueueTrimmed(t *testing.T) {
	_, h, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	conn := h.session(t, 0).c
	conn.Send(TextFrame([]byte("hello")))
	if _, p := c.ReadFrame(); string(p) != "hello" {
		t.Fatalf("read %q", p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn.mu.Lock()
		held := conn.q.out != nil
		conn.mu.Unlock()
		if !held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle connection kept its write queue's array")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPushFront: the handshake's response goes before the welcome that
// Accept queued, with one allocation (two before: a one-entry slice, then
// that slice grown to take the welcome), in place when the array has room.
func TestPushFront(t *testing.T) {
	resp := bytes.Repeat([]byte{'r'}, 10)
	allocs := testing.AllocsPerRun(100, func() {
		q := queueOf(qf{id: 'w', size: 5})
		q.pushFront(resp)
		if q.ids() != "rw" || q.bytes != 15 {
			t.Fatalf("queue %q, %d bytes", q.ids(), q.bytes)
		}
	})
	if allocs != 4 && !raceEnabled { // the race detector's build allocates otherwise
		t.Fatalf("%v allocations, want 4 (queueOf's queue, frame and array; the grown array)", allocs)
	}
	q := queueOf(qf{id: 'w', size: 5}, qf{id: 'x', size: 5})
	q.out = q.out[:1] // room at the end
	q.bytes = 5
	arr := &q.out[0]
	q.pushFront(resp)
	if q.ids() != "rw" || q.bytes != 15 || &q.out[0] != arr {
		t.Fatalf("queue %q, %d bytes, moved %v; want rw in place", q.ids(), q.bytes, &q.out[0] != arr)
	}
}
