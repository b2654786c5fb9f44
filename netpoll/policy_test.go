package netpoll

import (
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
)

const (
	pD = PolicyDisconnect
	pO = PolicyDropOldest
	pL = PolicyLatest
)

// addCases drive writeQueue.add with a bound of 2000 bytes; missedRoom (512)
// is part of the arithmetic of the dropping cases.
var addCases = []struct {
	name     string
	queued   []qf
	written  int  // bytes of the first frame already written
	inFlight bool // a writev points at everything queued
	later    []qf // queued after that
	add      qf
	ok       bool
	dropped  int
	replaced int
	ids      string // the queue afterwards
}{
	{
		name:   "disconnect: appended when it fits",
		queued: []qf{{'a', 400, 1, pD}},
		add:    qf{'e', 400, 2, pD},
		ok:     true, ids: "ae",
	},
	{
		name:   "disconnect: refused over the bound, nothing dropped",
		queued: []qf{{'a', 400, 1, pO}, {'b', 400, 2, pO}, {'c', 400, 3, pO}, {'d', 400, 1, pO}},
		add:    qf{'e', 500, 1, pD},
		ok:     false, ids: "abcd",
	},
	{
		name:   "drop-oldest: the oldest events of any policy go until the frame and a notice fit",
		queued: []qf{{'a', 400, 1, pO}, {'b', 400, 2, pD}, {'c', 400, 3, pL}, {'d', 400, 1, pO}},
		add:    qf{'e', 600, 2, pO},
		ok:     true, dropped: 2, ids: "cde",
	},
	{
		name:   "drop-oldest: frames without a key stay",
		queued: []qf{{'r', 400, 0, pD}, {'a', 400, 1, pO}, {'s', 400, 0, pD}, {'b', 400, 2, pO}},
		add:    qf{'e', 600, 1, pO},
		ok:     true, dropped: 2, ids: "rse",
	},
	{
		name:    "drop-oldest: the partly written frame stays",
		queued:  []qf{{'a', 400, 1, pO}, {'b', 400, 2, pO}, {'c', 400, 3, pO}, {'d', 400, 1, pO}},
		written: 100,
		add:     qf{'e', 600, 2, pO},
		ok:      true, dropped: 2, ids: "ade",
	},
	{
		name:     "drop-oldest: frames a write is using neither count nor go",
		queued:   []qf{{'a', 400, 1, pO}, {'b', 400, 2, pO}},
		inFlight: true,
		later:    []qf{{'c', 600, 3, pO}, {'d', 200, 1, pO}},
		add:      qf{'e', 1250, 2, pO},
		ok:       true, dropped: 1, ids: "abde",
	},
	{
		name:     "any policy: twice the bound with a write running is the cap",
		queued:   []qf{{'a', 900, 1, pO}, {'b', 900, 2, pO}, {'c', 900, 3, pO}, {'d', 900, 1, pO}},
		inFlight: true,
		add:      qf{'e', 500, 2, pO},
		ok:       false, ids: "abcd",
	},
	{
		name:   "drop-oldest: refused when dropping every event is not enough",
		queued: []qf{{'r', 900, 0, pD}, {'s', 900, 0, pD}, {'a', 100, 1, pO}},
		add:    qf{'e', 300, 1, pO},
		ok:     false, dropped: 1, ids: "rs",
	},
	{
		name:   "latest: replaces the frame of its key in place",
		queued: []qf{{'a', 400, 1, pL}, {'b', 400, 2, pL}, {'r', 400, 0, pD}},
		add:    qf{'e', 500, 1, pL},
		ok:     true, replaced: 1, ids: "ebr",
	},
	{
		name:   "latest: a frame of its key queued with another policy stays",
		queued: []qf{{'a', 400, 1, pO}, {'b', 400, 2, pL}},
		add:    qf{'e', 400, 1, pL},
		ok:     true, ids: "abe",
	},
	{
		name:    "latest: the partly written frame of its key stays",
		queued:  []qf{{'a', 400, 1, pL}, {'b', 400, 2, pL}},
		written: 100,
		add:     qf{'e', 400, 1, pL},
		ok:      true, ids: "abe",
	},
	{
		name:     "latest: the frame of its key that a write is using stays",
		queued:   []qf{{'a', 400, 1, pL}, {'b', 400, 2, pL}},
		inFlight: true,
		add:      qf{'e', 400, 1, pL},
		ok:       true, ids: "abe",
	},
	{
		name:   "latest: no room in the old frame's place: it goes, then the oldest",
		queued: []qf{{'a', 400, 2, pO}, {'b', 400, 1, pL}, {'c', 400, 3, pO}, {'d', 400, 2, pO}},
		add:    qf{'e', 900, 1, pL},
		ok:     true, dropped: 2, replaced: 1, ids: "de",
	},
	{
		name:   "latest: no frame of its key and no room: as drop-oldest",
		queued: []qf{{'a', 400, 1, pO}, {'b', 400, 2, pL}, {'c', 400, 3, pO}, {'d', 400, 1, pO}},
		add:    qf{'e', 600, 4, pL},
		ok:     true, dropped: 2, ids: "cde",
	},
	{
		name:   "no key: neither replaces nor drops, whatever the policy",
		queued: []qf{{'r', 400, 0, pL}, {'a', 400, 1, pO}, {'b', 400, 2, pO}, {'c', 400, 3, pO}},
		add:    qf{'e', 600, 0, pL},
		ok:     false, ids: "rabc",
	},
	{
		name:   "an unknown policy is disconnect",
		queued: []qf{{'a', 400, 1, pO}, {'b', 400, 2, pO}, {'c', 400, 3, pO}, {'d', 400, 1, pO}},
		add:    qf{'e', 600, 1, 7},
		ok:     false, ids: "abcd",
	},
}

func TestQueueAddPolicies(t *testing.T) {
	const bound = 2000
	for _, tc := range addCases {
		t.Run(tc.name, func(t *testing.T) {
			q := queueOf(tc.queued...)
			var iov [64]syscall.Iovec
			if tc.written > 0 || tc.inFlight {
				q.fill(iov[:])
			}
			if tc.written > 0 {
				q.consume(tc.written)
			}
			for _, f := range tc.later {
				q.push(f.entry())
			}
			ok, dropped, replaced := q.add(tc.add.entry(), bound)
			if ok != tc.ok || dropped != tc.dropped || replaced != tc.replaced {
				t.Errorf("add = ok %v, dropped %d, replaced %d; want %v, %d, %d",
					ok, dropped, replaced, tc.ok, tc.dropped, tc.replaced)
			}
			if q.ids() != tc.ids {
				t.Errorf("queue = %q, want %q", q.ids(), tc.ids)
			}
			checkBytes(t, q)
			checkBound(t, q, bound, 0, ok)
		})
	}
}

// TestQueueShortWriteCollapsesLatest: a frame added while its key's frame
// is being written waits behind it; when the write stops short of the old
// frame, the new one takes its place, so one frame per key waits again.
func TestQueueShortWriteCollapsesLatest(t *testing.T) {
	for _, written := range []int{0, 5} { // EAGAIN, and a write ending inside r
		q := queueOf(qf{'r', 10, 0, pD}, qf{'a', 10, 1, pL}, qf{'b', 10, 2, pL})
		var iov [64]syscall.Iovec
		q.fill(iov[:])
		q.add(qf{'A', 10, 1, pL}.entry(), 1000)
		if q.ids() != "rabA" {
			t.Fatalf("during the write: %q", q.ids())
		}
		if replaced, _ := q.consume(written); replaced != 1 || q.ids() != "rAb" {
			t.Fatalf("after writing %d bytes: %q, %d replaced; want \"rAb\", 1", written, q.ids(), replaced)
		}
		checkBytes(t, q)
	}
}

// TestQueueNoticeFitsAfterShortWrite: the room a drop made for the
// notice counted on a running write; the write stops short before the
// notice comes, yet the notice fits, and only that one.
func TestQueueNoticeFitsAfterShortWrite(t *testing.T) {
	const bound = 2000
	q := queueOf(qf{'a', 900, 1, pO}, qf{'b', 900, 2, pO})
	var iov [64]syscall.Iovec
	q.fill(iov[:])
	q.push(qf{'c', 900, 3, pO}.entry())
	if ok, dropped, _ := q.add(qf{'e', 1200, 1, pO}.entry(), bound); !ok || dropped != 1 {
		t.Fatalf("add = %v, %d dropped; want true, 1", ok, dropped)
	}
	q.consume(0) // EAGAIN: 3000 bytes wait now, over the bound
	if ok, _, _ := q.add(qf{'n', 300, 0, pD}.entry(), bound); !ok {
		t.Fatal("the notice was refused")
	}
	if ok, _, _ := q.add(qf{'r', 10, 0, pD}.entry(), bound); ok {
		t.Fatal("a second frame took the notice's grant")
	}
}

// TestQueueInvariants runs random adds and writes against the queue and
// checks after each step what the policies promise: the byte count is
// right, the queue stays within its bounds (see room), frames without
// a key are never lost, frames a write uses never change, and at most one
// PolicyLatest frame per key waits.
func TestQueueInvariants(t *testing.T) {
	const bound = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	q := &writeQueue{}
	var iov [4]syscall.Iovec
	var control []*byte // frames without a key, in queue order
	inFlight := 0       // bytes a pretend writev was given; 0 when none
	for step := range 20000 {
		switch r := rng.IntN(10); {
		case r < 7:
			f := qf{id: byte(step), size: 1 + rng.IntN(300), key: uint64(rng.IntN(5)), policy: rng.IntN(3)}
			fixed := slices.Clone(q.out[:q.keep])
			e := f.entry()
			granted := 0
			if f.key == 0 && f.size <= int(q.grant) {
				granted = int(q.grant)
			}
			ok, _, _ := q.add(e, bound)
			checkBound(t, q, bound, granted, ok)
			if !ok {
				q.cut() // what Conn.overflowLocked does
			}
			if len(q.out) < len(fixed) {
				t.Fatalf("step %d: %d fixed frames, %d left", step, len(fixed), len(q.out))
			}
			for i := range fixed {
				if &fixed[i].b[0] != &q.out[i].b[0] {
					t.Fatalf("step %d: fixed frame %d changed", step, i)
				}
			}
			if !ok { // the connection closes; start a fresh one
				*q = writeQueue{}
				inFlight, control = 0, nil
				continue
			}
			if f.key == 0 {
				control = append(control, &e.b[0])
			}
		case r < 8 && inFlight == 0:
			_, inFlight = q.fill(iov[:1+rng.IntN(len(iov))])
		default:
			written := 0
			if inFlight > 0 {
				written = rng.IntN(inFlight + 1)
			}
			q.consume(written)
			inFlight = 0
			control = slices.DeleteFunc(control, func(p *byte) bool { return !queued(q, p) })
		}
		checkBytes(t, q)
		checkControl(t, q, control)
		checkOneWaitingPerKey(t, q)
	}
}

// checkBound fails when the bytes waiting, not counting those a write was
// given, are over the bound after a frame was accepted, or when all bytes
// are over twice the bound; granted is what a notice may take beyond them.
func checkBound(t *testing.T, q *writeQueue, bound, granted int, accepted bool) {
	t.Helper()
	if accepted && int(q.bytes-q.inflight) > bound+granted || int(q.bytes) > 2*bound+granted {
		t.Fatalf("%d bytes queued, %d of them being written, bound %d (+%d)", q.bytes, q.inflight, bound, granted)
	}
}

func queued(q *writeQueue, p *byte) bool {
	return slices.ContainsFunc(q.out, func(e entry) bool { return &e.b[0] == p })
}

// checkControl fails unless the frames without a key are queued in order.
func checkControl(t *testing.T, q *writeQueue, control []*byte) {
	t.Helper()
	var got []*byte
	for _, e := range q.out {
		if e.key == 0 {
			got = append(got, &e.b[0])
		}
	}
	if !slices.Equal(got, control) {
		t.Fatalf("frames without a key: %d queued, want %d in order", len(got), len(control))
	}
}

// checkOneWaitingPerKey fails when two PolicyLatest frames of a key wait
// behind the fixed ones, or at all (not counting a partly written one)
// once no write is using any.
func checkOneWaitingPerKey(t *testing.T, q *writeQueue) {
	t.Helper()
	for _, from := range []int{int(q.keep), int(min(q.head, 1))} {
		seen := map[uint64]bool{}
		for _, e := range q.out[from:] {
			if e.policy != PolicyLatest {
				continue
			}
			if seen[e.key] && (from == int(q.keep) || !q.stale) {
				t.Fatalf("two waiting frames for key %d: %q (keep %d, head %d)", e.key, q.ids(), q.keep, q.head)
			}
			seen[e.key] = true
		}
	}
}

// BenchmarkQueuePolicies: one QueueEvent's work on the queue in the steady
// state of each policy under a stalled client: appending within the bound
// (then written), dropping the oldest at the bound, and replacing in place.
// The queue reuses its array: 0 allocs per op.
func BenchmarkQueuePolicies(b *testing.B) {
	const bound = 64 << 10
	frame := make([]byte, 4<<10)
	var iov [64]syscall.Iovec
	cases := []struct {
		name   string
		policy int
		keys   uint64
		write  bool // a writev takes the frame
	}{
		{name: "append and write", policy: PolicyDisconnect, keys: 1, write: true},
		{name: "drop oldest", policy: PolicyDropOldest, keys: 1},
		{name: "latest", policy: PolicyLatest, keys: 16},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			q := &writeQueue{}
			for i := 0; !bc.write && i < bound/len(frame); i++ { // a full queue
				q.add(newEntry(frame, uint64(i)%bc.keys+1, bc.policy), bound)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if ok, _, _ := q.add(newEntry(frame, uint64(i)%bc.keys+1, bc.policy), bound); !ok {
					b.Fatal("refused")
				}
				if bc.write {
					_, total := q.fill(iov[:])
					q.consume(total)
				}
			}
		})
	}
}
