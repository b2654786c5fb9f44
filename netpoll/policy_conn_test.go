package netpoll

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Real sockets under each slow-consumer policy: the client stops reading,
// events keep coming, then it reads everything. Events are binary frames
// (see eventFrame); replies and notices, queued with Queue, are text.

// stallLimit bounds the events sent before the socket buffers are full.
const stallLimit = 20000

// eventFrame is a binary frame of size payload bytes naming key and seq,
// filled with bytes derived from seq so that a torn or mixed frame shows.
func eventFrame(key uint64, seq, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint64(p, key)
	binary.BigEndian.PutUint64(p[8:], uint64(seq))
	for i := 16; i < size; i++ {
		p[i] = byte(seq + i)
	}
	return AppendFrame(nil, ws.OpBinary, p)
}

type event struct {
	key uint64
	seq int
}

// readToEnd reads until the text frame "end", checking that every event is
// whole, and returns the events and the other text frames in order.
func readToEnd(t *testing.T, cl *rawClient, size int) (events []event, texts []string) {
	t.Helper()
	for {
		hd, p := cl.ReadFrame()
		switch {
		case hd.OpCode == ws.OpText && string(p) == "end":
			return events, texts
		case hd.OpCode == ws.OpText:
			texts = append(texts, string(p))
		case hd.OpCode == ws.OpBinary && len(p) == size:
			e := event{binary.BigEndian.Uint64(p), int(binary.BigEndian.Uint64(p[8:]))}
			if want := eventFrame(e.key, e.seq, size); !bytes.HasSuffix(want, p) {
				t.Fatalf("event %+v torn", e)
			}
			events = append(events, e)
		default:
			t.Fatalf("unexpected %v frame of %d bytes after %d events", hd.OpCode, len(p), len(events))
		}
	}
}

// connectStalling connects a client that will not read for a while and
// returns it with its server side. The server's send buffer is made small
// so that a few hundred KiB fill the socket.
func connectStalling(t *testing.T, h *testHandler, addr string) (*rawClient, *Conn) {
	t.Helper()
	cl, _ := connect(t, addr)
	c := h.session(t, 0).c
	if err := syscall.SetsockoptInt(c.Fd(), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 16<<10); err != nil {
		t.Fatal(err)
	}
	return cl, c
}

// stalled reports that c's queue waits for its client: frames are queued and
// no worker is running or will run c, which means its last write found the
// socket full. Only the client reading again (EPOLLOUT) moves the queue.
func stalled(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.q.empty() && !c.queued.Load() && c.pending.Load() == 0
}

// snapshot copies c's queue, so that checks can fail without holding c.mu.
func snapshot(c *Conn) writeQueue {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.q
	q.out = slices.Clone(q.out)
	return q
}

// publisher queues to one connection as the core does: a batch, then one
// Flush if the queue was empty before it.
type publisher struct {
	t       *testing.T
	c       *Conn
	first   bool
	replies int
}

func (p *publisher) event(f []byte, key uint64, policy int) (dropped int) {
	p.t.Helper()
	ok, first, dropped := p.c.QueueEvent(f, key, policy)
	if !ok {
		p.t.Fatal("QueueEvent refused an event")
	}
	p.first = p.first || first
	return dropped
}

func (p *publisher) text(s string) {
	p.t.Helper()
	ok, first := p.c.Queue(TextFrame([]byte(s)))
	if !ok {
		p.t.Fatalf("Queue refused %q", s)
	}
	p.first = p.first || first
}

func (p *publisher) reply() {
	p.text(fmt.Sprint("reply ", p.replies))
	p.replies++
}

func (p *publisher) flush() {
	if p.first {
		p.c.Flush()
	}
	p.first = false
}

// checkReplies fails unless texts hold the replies 0..n-1 in order.
func checkReplies(t *testing.T, texts []string, n int) {
	t.Helper()
	got := 0
	for _, s := range texts {
		if strings.HasPrefix(s, "reply ") {
			if want := fmt.Sprint("reply ", got); s != want {
				t.Fatalf("got %q, want %q", s, want)
			}
			got++
		}
	}
	if got != n {
		t.Fatalf("%d replies arrived, %d sent", got, n)
	}
}

func TestPolicyDisconnectClosesStalledClient(t *testing.T) {
	const size = 8 << 10
	srv, h, addr := startServer(t, Options{WriteQueueBytes: 64 << 10, CloseTimeout: 20 * time.Second, PingInterval: time.Hour})
	cl, c := connectStalling(t, h, addr)
	sent := 0
	for ; sent < stallLimit; sent++ {
		ok, first, dropped := c.QueueEvent(eventFrame(1, sent, size), 1, PolicyDisconnect)
		if dropped != 0 {
			t.Fatalf("PolicyDisconnect dropped %d frames", dropped)
		}
		if !ok {
			break
		}
		if first {
			c.Flush()
		}
	}
	if sent == stallLimit {
		t.Fatal("the queue never overflowed")
	}
	last := -1
	for {
		hd, p := cl.ReadFrame()
		if hd.OpCode == ws.OpClose {
			if code := int(binary.BigEndian.Uint16(p)); code != CloseSlowConsumer {
				t.Fatalf("close code %d, want %d", code, CloseSlowConsumer)
			}
			break
		}
		if len(p) != size {
			t.Fatalf("event after %d: %d bytes", last, len(p))
		}
		seq := int(binary.BigEndian.Uint64(p[8:]))
		if seq <= last || !bytes.HasSuffix(eventFrame(1, seq, size), p) {
			t.Fatalf("event %d after %d: %d bytes, torn or out of order", seq, last, len(p))
		}
		last = seq
	}
	cl.Write(frame(true, ws.OpClose, closeBody(CloseSlowConsumer, ""), true))
	if code := h.session(t, 0).waitClosed(t); code != CloseSlowConsumer {
		t.Fatalf("session closed with %d", code)
	}
	if st := srv.Stats(); st.SlowConsumer != 1 || st.DroppedFrames != 0 {
		t.Fatalf("stats: %d slow consumers closed, %d frames dropped", st.SlowConsumer, st.DroppedFrames)
	}
}

// TestPolicyDropOldestKeepsStalledClient: the stalled client stays
// connected within the bound, is told of every drop (the notice fits in the
// room the drop left), and on reading again gets whole frames, its replies,
// and the newest events: exactly those not reported dropped.
func TestPolicyDropOldestKeepsStalledClient(t *testing.T) {
	const bound, size = 64 << 10, 4 << 10
	srv, h, addr := startServer(t, Options{WriteQueueBytes: bound, PingInterval: time.Hour}) // no pings among the frames
	cl, c := connectStalling(t, h, addr)
	pub := &publisher{t: t, c: c}
	sent, dropped, notices, stalls := 0, 0, 0, 0
	for ; dropped < 100 || stalls == 0; sent++ {
		if sent == stallLimit {
			t.Fatalf("%d dropped and %d times stalled after %d events", dropped, stalls, sent)
		}
		if stalled(pub.c) {
			stalls++
		}
		key := uint64(sent%3 + 1)
		if d := pub.event(eventFrame(key, sent, size), key, PolicyDropOldest); d > 0 {
			dropped += d
			pub.text(fmt.Sprintf("%-200s", fmt.Sprint("missed ", d))) // a channel name makes it long
			notices++
		}
		if sent%16 == 0 {
			pub.reply()
		}
		pub.flush()
		q := snapshot(pub.c)
		checkBound(t, &q, bound, missedRoom, false) // twice the bound with frames being written: see room
	}
	pub.text("end")
	pub.flush()

	events, texts := readToEnd(t, cl, size)
	for i := 1; i < len(events); i++ {
		if events[i].seq <= events[i-1].seq {
			t.Fatalf("event %d after %d", events[i].seq, events[i-1].seq)
		}
	}
	if len(events)+dropped != sent || events[len(events)-1].seq != sent-1 {
		t.Fatalf("%d events read, %d dropped, %d sent, last %d", len(events), dropped, sent, events[len(events)-1].seq)
	}
	checkReplies(t, texts, pub.replies)
	if len(texts) != pub.replies+notices {
		t.Fatalf("%d texts, want %d replies and %d notices", len(texts), pub.replies, notices)
	}
	if st := srv.Stats(); st.DroppedFrames != uint64(dropped) || st.SlowConsumer != 0 {
		t.Fatalf("stats: %d frames dropped (want %d), %d slow consumers closed", st.DroppedFrames, dropped, st.SlowConsumer)
	}
	if !pub.c.Send(TextFrame([]byte("still open"))) {
		t.Fatal("the connection was closed")
	}
	if _, p := cl.ReadFrame(); string(p) != "still open" {
		t.Fatalf("got %q", p)
	}
}

// TestPolicyLatestKeepsOnePerKey: with frames for keys A and B queued
// repeatedly while the client is stalled, one frame per key waits; on
// reading again the client gets every reply and the newest frame of each
// key last.
func TestPolicyLatestKeepsOnePerKey(t *testing.T) {
	const size = 16 << 10
	srv, h, addr := startServer(t, Options{PingInterval: time.Hour}) // no pings among the frames
	cl, c := connectStalling(t, h, addr)
	pub := &publisher{t: t, c: c}
	sent, reported := 0, 0
	send := func() {
		for key := uint64(1); key <= 2; key++ {
			reported += pub.event(eventFrame(key, sent, size), key, PolicyLatest)
		}
		pub.flush()
		sent++
	}
	for !stalled(pub.c) {
		if sent == stallLimit {
			t.Fatalf("not stalled after %d events", sent)
		}
		send()
	}
	for i := range 100 {
		send()
		if i%10 == 0 {
			pub.reply()
			pub.flush()
		}
		q := snapshot(pub.c)
		checkOneWaitingPerKey(t, &q)
	}
	pub.text("end")
	pub.flush()

	events, texts := readToEnd(t, cl, size)
	last := map[uint64]int{1: -1, 2: -1}
	for _, e := range events {
		if e.seq <= last[e.key] {
			t.Fatalf("key %d: event %d after %d", e.key, e.seq, last[e.key])
		}
		last[e.key] = e.seq
	}
	if last[1] != sent-1 || last[2] != sent-1 {
		t.Fatalf("last events %v, want %d for both keys", last, sent-1)
	}
	checkReplies(t, texts, pub.replies)
	st := srv.Stats()
	// Stalled, the 200 frames of the last 100 rounds replace one each; a
	// write let through by a stray EPOLLOUT may save a few.
	if reported < 100 || st.ConflatedFrames < uint64(reported) || st.DroppedFrames != 0 {
		t.Fatalf("%d replaced frames reported, stats: %d conflated, %d dropped", reported, st.ConflatedFrames, st.DroppedFrames)
	}
	if got := len(events) + int(st.ConflatedFrames); got != 2*sent {
		t.Fatalf("%d events read + %d conflated, %d sent", len(events), st.ConflatedFrames, 2*sent)
	}
}
