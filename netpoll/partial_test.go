package netpoll

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fanoutd/fanoutd/internal/cputime"
	"github.com/gobwas/ws"
)

// TestIncompleteMessageIsClosed: a message that does not complete within
// Options.MessageTimeout closes the connection with 1008, whether it is a
// frame still arriving or a fragmented message waiting for its last frame.
// Any byte counts as alive for the heartbeat, so without the bound a client
// could hold a partial frame's buffer forever.
func TestIncompleteMessageIsClosed(t *testing.T) {
	cases := []struct {
		name string
		send []byte
	}{
		{name: "partial frame", send: frame(true, ws.OpBinary, make([]byte, 4000), true)[:1000]},
		{name: "partial header", send: frame(true, ws.OpBinary, make([]byte, 4000), true)[:3]},
		{name: "unfinished fragmented message", send: frame(false, ws.OpText, []byte("part"), true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, addr := startServer(t, Options{MessageTimeout: 50 * time.Millisecond})
			c, _ := connect(t, addr)
			c.Write(tc.send)
			if got := c.ReadClose(); got != ClosePolicyViolation {
				t.Fatalf("close code = %d, want %d", got, ClosePolicyViolation)
			}
			if srv.Stats().MessageTimedOut != 1 {
				t.Fatalf("message timeouts counted = %d", srv.Stats().MessageTimedOut)
			}
		})
	}
}

// TestCompleteMessagesAreNotTimedOut: messages that complete, even after
// several reads, never trip the message timeout.
func TestCompleteMessagesAreNotTimedOut(t *testing.T) {
	_, _, addr := startServer(t, Options{MessageTimeout: 50 * time.Millisecond})
	c, _ := connect(t, addr)
	f := frame(true, ws.OpText, bytes.Repeat([]byte("a"), 3000), true)
	c.Write(f[:100])
	c.Write(f[100:])
	if hd, p := c.ReadFrame(); hd.OpCode != ws.OpText || len(p) != 3000 {
		t.Fatalf("echo = %v, %d bytes", hd.OpCode, len(p))
	}
	time.Sleep(200 * time.Millisecond) // several sweeps with nothing pending
	c.Write(text("still here"))
	if hd, p := c.ReadFrame(); hd.OpCode != ws.OpText || string(p) != "still here" {
		t.Fatalf("echo = %v %q", hd.OpCode, p)
	}
}

// TestInvalidUTF8FailsFast (Autobahn 6.4.1–6.4.4, strict): invalid UTF-8 is
// refused with 1007 as soon as it arrives, in a fragment of a message that
// never completes, or in the received prefix of a frame still arriving.
func TestInvalidUTF8FailsFast(t *testing.T) {
	valid := []byte("κόσμε")
	bad := append(append([]byte{}, valid...), 0xf4, 0x90, 0x80, 0x80) // beyond U+10FFFF
	big := frame(true, ws.OpText, append(bytes.Clone(bad), bytes.Repeat([]byte("a"), 3000)...), true)
	cases := []struct {
		name string
		send [][]byte
	}{
		{name: "first fragment invalid", send: [][]byte{frame(false, ws.OpText, bad, true)}},
		{name: "invalid lead byte split off", send: [][]byte{
			frame(false, ws.OpText, valid, true), frame(false, ws.OpContinuation, []byte{0xf4, 0x90}, true)}},
		{name: "prefix of a frame still arriving", send: [][]byte{big[:4+len(bad)+10]}},
		{name: "prefix of a continuation still arriving", send: [][]byte{
			frame(false, ws.OpText, valid, true),
			frame(true, ws.OpContinuation, append([]byte{0xff}, bytes.Repeat([]byte("a"), 3000)...), true)[:20]}},
		{name: "surrogate", send: [][]byte{frame(false, ws.OpText, []byte{'a', 0xed, 0xa0}, true)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, h, addr := startServer(t, Options{})
			c, _ := connect(t, addr)
			for _, f := range tc.send {
				c.Write(f)
			}
			if got := c.ReadClose(); got != CloseInvalidPayload {
				t.Fatalf("close code = %d, want %d", got, CloseInvalidPayload)
			}
			if got := h.session(t, 0).messages(); len(got) != 0 {
				t.Fatalf("delivered %q", got)
			}
		})
	}
}

// TestValidUTF8SplitAnywhere: a valid text message split at every byte
// into fragments, and a frame whose bytes arrive one by one, are delivered
// whole (a code point split across fragments or reads is not an error).
func TestValidUTF8SplitAnywhere(t *testing.T) {
	msg := []byte("aκόσμε€𐍈z")
	_, _, addr := startServer(t, Options{MaxFragments: 64})
	c, _ := connect(t, addr)
	for i := range msg {
		c.Write(frame(false, ws.OpText, msg[:i], true))
		c.Write(frame(true, ws.OpContinuation, msg[i:], true))
		if hd, p := c.ReadFrame(); hd.OpCode != ws.OpText || !bytes.Equal(p, msg) {
			t.Fatalf("split at %d: echo = %v %q", i, hd.OpCode, p)
		}
	}
	f := frame(true, ws.OpText, msg, true)
	for i := range f {
		c.Write(f[i : i+1])
		time.Sleep(time.Millisecond) // separate reads, mostly
	}
	if hd, p := c.ReadFrame(); hd.OpCode != ws.OpText || !bytes.Equal(p, msg) {
		t.Fatalf("dripped: echo = %v %q", hd.OpCode, p)
	}
}

// TestUTF8CheckMatchesValid: the incremental check, fed a byte string in
// random pieces, agrees with utf8.Valid on the whole, and never accepts an
// invalid prefix.
func TestUTF8CheckMatchesValid(t *testing.T) {
	alphabet := []byte{'a', 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xee, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		var u utf8Check
		ok := true
		for rest := b; len(rest) > 0 && ok; {
			n := 1 + r.IntN(len(rest))
			ok = u.feed(rest[:n])
			rest = rest[n:]
		}
		if got, want := ok && u.complete(), utf8.Valid(b); got != want {
			t.Fatalf("%x: incremental %v, utf8.Valid %v", b, got, want)
		}
		if !ok && validPrefix(b) {
			t.Fatalf("%x: refused a valid prefix", b)
		}
	}
}

// validPrefix reports whether some continuation makes b valid UTF-8.
func validPrefix(b []byte) bool {
	for _, tail := range [][]byte{nil, {0x80}, {0x80, 0x80}, {0x80, 0x80, 0x80}, {0x90, 0x80, 0x80}, {0xa0, 0x80}} {
		if utf8.Valid(append(bytes.Clone(b), tail...)) {
			return true
		}
	}
	return false
}

// BenchmarkPartialFrame: one masked binary frame arriving in 64-byte
// pieces, each read by the worker on its own wakeup, over a socket pair.
// The cost must grow linearly with the frame size: ns/byte and cpu-ns/byte
// stay flat from 256 KiB to 1 MiB (a copy of the partial frame per wakeup
// made them grow with the size).
func BenchmarkPartialFrame(b *testing.B) {
	for _, size := range []int{256 << 10, 512 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			srv, err := NewServer(Options{Handler: acceptAll{}, MaxMessageSize: 2 << 20})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = srv.Shutdown(b.Context(), CloseGoingAway, "") })
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
			sess := &countSession{}
			c := &Conn{srv: srv, fd: int32(fds[0]), session: sess}
			c.state.Store(stateOpen)
			w := newWorker(srv)
			f := frame(true, ws.OpBinary, make([]byte, size), true)
			b.ReportAllocs()
			b.SetBytes(int64(len(f)))
			cpu0 := int64(cputime.Self())
			b.ResetTimer()
			for range b.N {
				for off := 0; off < len(f); off += 64 {
					if _, err := syscall.Write(fds[1], f[off:min(off+64, len(f))]); err != nil {
						b.Fatal(err)
					}
					w.read(c)
				}
			}
			b.StopTimer()
			if sess.n != b.N || c.state.Load() != stateOpen {
				b.Fatalf("delivered %d of %d messages, state %d", sess.n, b.N, c.state.Load())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(f)), "ns/byte")
			// CPU time (user and system, this process: the writer's and the
			// reader's system calls included) is what a busy machine does
			// not inflate the way it inflates wall time.
			b.ReportMetric(float64(int64(cputime.Self())-cpu0)/float64(b.N*len(f)), "cpu-ns/byte")
		})
	}
}

type countSession struct{ n int }

func (s *countSession) Message(bool, []byte) { s.n++ }
func (s *countSession) Closed(int)           {}

// TestReadCutAnywhere: a stream of valid frames (text with multi-byte
// characters, binary, fragmented messages cut mid-character, pongs between
// fragments, lengths in all three forms) delivered through a socket pair in
// pieces of random size, each read on its own wakeup, yields exactly the
// messages that were sent: the partial-frame path and the in-place path
// agree wherever the cuts fall.
func TestReadCutAnywhere(t *testing.T) {
	srv, err := NewServer(Options{Handler: acceptAll{}, MaxMessageSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(t.Context(), CloseGoingAway, "") })
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 12 {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		sess := &recordSession{}
		c := &Conn{srv: srv, fd: int32(fds[0]), session: sess}
		c.state.Store(stateOpen)
		w := newWorker(srv)
		stream, want := randomMessages(r, 30)
		for len(stream) > 0 {
			n := min(len(stream), 1+r.IntN(3000))
			if _, err := syscall.Write(fds[1], stream[:n]); err != nil {
				t.Fatal(err)
			}
			stream = stream[n:]
			w.read(c)
		}
		if c.state.Load() != stateOpen {
			t.Fatalf("round %d: connection failed (code %d)", round, c.closeCode)
		}
		if len(sess.got) != len(want) {
			t.Fatalf("round %d: %d messages, want %d", round, len(sess.got), len(want))
		}
		for i := range want {
			if sess.got[i] != want[i] {
				t.Fatalf("round %d, message %d differs", round, i)
			}
		}
		_ = syscall.Close(fds[0])
		_ = syscall.Close(fds[1])
	}
}

// randomMessages returns n valid messages as client frames, and what a
// session must receive for them.
func randomMessages(r *rand.Rand, n int) ([]byte, []string) {
	runes := []rune("aé€𐍈z ")
	var stream []byte
	var want []string
	for range n {
		size := []int{0, 1, 125, 126, 300, 65535 - 100, 20000, 70000}[r.IntN(8)]
		binary := r.IntN(3) == 0
		var p []byte
		for len(p) < size {
			if binary {
				p = append(p, byte(r.IntN(256)))
			} else {
				p = utf8.AppendRune(p, runes[r.IntN(len(runes))])
			}
		}
		want = append(want, fmt.Sprintf("%v:%s", binary, p))
		op := ws.OpText
		if binary {
			op = ws.OpBinary
		}
		parts := 1 + r.IntN(4)
		for i := range parts {
			lo, hi := len(p)*i/parts, len(p)*(i+1)/parts
			if i > 0 {
				op = ws.OpContinuation
				if r.IntN(2) == 0 {
					stream = append(stream, frame(true, ws.OpPong, []byte("pong"), true)...)
				}
			}
			stream = append(stream, frame(i == parts-1, op, p[lo:hi], true)...)
		}
	}
	return stream, want
}

type recordSession struct{ got []string }

func (s *recordSession) Message(binary bool, p []byte) {
	s.got = append(s.got, fmt.Sprintf("%v:%s", binary, p))
}
func (s *recordSession) Closed(int) {}

// TestPartialFrameHoldsWhatArrived: the buffer of a frame still arriving
// follows the bytes received (at most twice them, at least 4 KiB), not the
// length the header declares: 14 bytes cannot make the daemon hold 60 KB.
func TestPartialFrameHoldsWhatArrived(t *testing.T) {
	srv, err := NewServer(Options{Handler: acceptAll{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(t.Context(), CloseGoingAway, "") })
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
	sess := &countSession{}
	c := &Conn{srv: srv, fd: int32(fds[0]), session: sess}
	c.state.Store(stateOpen)
	w := newWorker(srv)
	part := func() []byte {
		if c.in == nil {
			return nil
		}
		return c.in.part
	}
	f := frame(true, ws.OpBinary, make([]byte, 60000), true)
	for _, end := range []int{14, 100, 5000, 20000, 45000, len(f)} {
		sent := len(part())
		if _, err := syscall.Write(fds[1], f[sent:end]); err != nil {
			t.Fatal(err)
		}
		w.read(c)
		if end == len(f) {
			break
		}
		if held := part(); len(held) != end || cap(held) > max(minPartBuf, 2*end) {
			t.Fatalf("after %d bytes: holding %d in a buffer of %d", end, len(held), cap(held))
		}
	}
	if sess.n != 1 || c.in != nil {
		t.Fatalf("delivered %d, still holding %d bytes", sess.n, len(part()))
	}
}
