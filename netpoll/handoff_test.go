package netpoll

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// freezeWhen freezes srv once ready holds for its exported states,
// resuming and retrying (bounded) while it does not: the tests wait for the
// worker to have read what the client sent without reading worker state.
func freezeWhen(t *testing.T, srv *Server, ready func([]ConnState) bool) []ConnState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := srv.Freeze(ctx)
		cancel()
		if err != nil {
			t.Fatalf("freeze: %v", err)
		}
		if sts := srv.Export(); ready(sts) {
			return sts
		}
		srv.Resume()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the transport never reached the expected state")
	return nil
}

// dupFd is what another process would get through fd passing.
func dupFd(t testing.TB, fd int) int {
	t.Helper()
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// handOver adopts every state into b with a duplicate descriptor, from
// four goroutines at once (Adopt is safe from any goroutine), binding each
// open one to a session of hb, then releases a.
func handOver(t testing.TB, a, b *Server, hb *testHandler, sts []ConnState) {
	t.Helper()
	bind := func(c *Conn) (Session, error) { return hb.Accept(c, &Request{}) }
	for i := range sts {
		sts[i].Fd = dupFd(t, sts[i].Fd)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(sts))
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(sts); i += 4 {
				if _, err := b.Adopt(sts[i], bind); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("adopt: %v", err)
	}
	a.Release()
}

// noCloses checks that none of h's sessions was told of a close.
func noCloses(t *testing.T, h *testHandler) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, s := range h.sess {
		select {
		case code := <-s.closed:
			t.Fatalf("session %d of the old server closed with %d", i, code)
		default:
		}
	}
}

func expectText(t *testing.T, c *rawClient, want string) {
	t.Helper()
	h, p := c.ReadFrame()
	if h.OpCode != ws.OpText || !h.Fin || string(p) != want {
		t.Fatalf("got %v fin=%v %q, want text %q", h.OpCode, h.Fin, p, want)
	}
}

func allMessages(h *testHandler) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var all []string
	for _, s := range h.sess {
		all = append(all, s.messages()...)
	}
	sort.Strings(all)
	return all
}

// TestHandOffKeepsEveryClient: 200 clients move from A to B without
// noticing; A's sessions never hear of a close.
func TestHandOffKeepsEveryClient(t *testing.T) {
	const n = 200
	a, ha, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{})
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i], _ = connect(t, addr)
		clients[i].Write(text(fmt.Sprint("before ", i)))
		expectText(t, clients[i], fmt.Sprint("before ", i))
	}
	fds := openFds(t)
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == n })
	for _, st := range sts {
		if st.Handshake || len(st.In) != 0 || len(st.Out) != 0 || !st.Local.IsValid() || !st.Remote.IsValid() {
			t.Fatalf("idle connection exported as %+v", st)
		}
	}
	handOver(t, a, b, hb, sts)
	if a.Conns() != 0 || b.Conns() != n || b.Stats().Adopted != n {
		t.Fatalf("A holds %d, B holds %d (adopted %d)", a.Conns(), b.Conns(), b.Stats().Adopted)
	}
	// A closed its copy of each socket, and its epoll set (the epoll
	// descriptor and easygo's eventfd) is gone.
	if got := openFds(t); got != fds-2 {
		t.Fatalf("open descriptors: %d before the hand-off, %d after, want %d", fds, got, fds-2)
	}
	for i, c := range clients {
		c.Write(text(fmt.Sprint("after ", i)))
		expectText(t, c, fmt.Sprint("after ", i))
	}
	hb.mu.Lock()
	for _, s := range hb.sess {
		s.c.Send(TextFrame([]byte("pushed")))
	}
	hb.mu.Unlock()
	for _, c := range clients {
		expectText(t, c, "pushed")
	}
	noCloses(t, ha)
	if err := a.Shutdown(context.Background(), CloseGoingAway, ""); err != nil {
		t.Fatalf("shutdown after release: %v", err)
	}
}

// TestHandOffInFlightInput: half a frame, and two fragments of three with
// a UTF-8 sequence cut between them, cross the hand-off and are delivered
// whole, once, by B.
func TestHandOffInFlightInput(t *testing.T) {
	a, ha, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{})
	half, _ := connect(t, addr)
	frag, _ := connect(t, addr)
	whole := text("a frame cut in two by the hand-off")
	half.Write(whole[:12])
	f1 := frame(false, ws.OpText, []byte("abc\xe2\x82"), true)
	f2 := frame(false, ws.OpContinuation, []byte("\xac def"), true)
	f3 := frame(true, ws.OpContinuation, []byte(" end"), true)
	frag.Write(append(f1, f2...))
	sts := freezeWhen(t, a, func(s []ConnState) bool {
		got := 0
		for _, st := range s {
			if len(st.In) > 0 {
				got++
			}
		}
		return got == 2
	})
	for _, st := range sts {
		if bytes.Equal(st.In, whole[:12]) {
			continue // the partial frame, byte for byte as sent
		}
		if h, _, ok, _ := parseHeader(st.In); !ok || h.Fin || h.OpCode != ws.OpText || h.Mask != [4]byte{} {
			t.Fatalf("fragments exported as %q", st.In)
		}
	}
	// The states cross a process boundary as JSON.
	js, err := json.Marshal(sts)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []ConnState
	if err := json.Unmarshal(js, &decoded); err != nil {
		t.Fatal(err)
	}
	for i := range decoded {
		decoded[i].Fd = sts[i].Fd
		if !decoded[i].Remote.IsValid() || !bytes.Equal(decoded[i].In, sts[i].In) {
			t.Fatalf("JSON round trip: %+v, want %+v", decoded[i], sts[i])
		}
	}
	handOver(t, a, b, hb, decoded)
	half.Write(whole[12:])
	frag.Write(f3)
	expectText(t, half, "a frame cut in two by the hand-off")
	expectText(t, frag, "abc€ def end")
	want := []string{"false:a frame cut in two by the hand-off", "false:abc€ def end"}
	if got := allMessages(hb); !slices.Equal(got, want) {
		t.Fatalf("B delivered %q, want %q", got, want)
	}
	if got := allMessages(ha); len(got) != 0 {
		t.Fatalf("A delivered %q", got)
	}
	noCloses(t, ha)
}

// dialSmall dials with a small receive buffer, so that a client that
// does not read makes the server's queue hold bytes.
func dialSmall(t *testing.T, addr string) *rawClient {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := dialRaw(t, addr) // a throwaway to reuse the client type's setup
	_ = c.NC.Close()
	c.NC = nc
	c.BR.Reset(nc)
	c.Write([]byte(upgradeRequest("/ws")))
	c.ReadHead()
	return c
}

// TestHandOffInFlightOutput: frames queued on A and not written (the
// client does not read; more are queued while frozen) reach the client
// from B, once, in order, whole.
func TestHandOffInFlightOutput(t *testing.T) {
	const n, extra = 300, 5
	a, ha, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{})
	c := dialSmall(t, addr)
	sa := ha.session(t, 0)
	_ = syscall.SetsockoptInt(sa.c.Fd(), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
	pad := strings.Repeat("x", 1000)
	for i := range n {
		sa.c.Send(TextFrame(fmt.Appendf(nil, "%04d %s", i, pad)))
	}
	const frameLen = 4 + 1005 // header with a 16-bit length, then "%04d " and pad
	// Wait until writes have filled the socket buffers: part of the queue
	// is written, the rest holds.
	first := freezeWhen(t, a, func(s []ConnState) bool {
		return len(s) == 1 && len(s[0].Out) > 0 && len(s[0].Out) < n*frameLen
	})
	t.Logf("%d bytes queued; the first frame %s", len(first[0].Out),
		map[bool]string{true: "was cut by a write", false: "is whole"}[len(first[0].Out)%frameLen != 0])
	for i := n; i < n+extra; i++ {
		sa.c.Send(TextFrame(fmt.Appendf(nil, "%04d %s", i, pad)))
	}
	sts := a.Export()
	if len(sts) != 1 || len(sts[0].Out) < extra*1000 {
		t.Fatalf("exported %d states", len(sts))
	}
	st := sts[0]
	st.Fd = dupFd(t, st.Fd)
	_, err := b.Adopt(st, func(c *Conn) (Session, error) {
		c.Send(TextFrame([]byte("bound"))) // queued behind what A left
		return hb.Accept(c, &Request{})
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	for i := range n + extra {
		expectText(t, c, fmt.Sprintf("%04d %s", i, pad))
	}
	expectText(t, c, "bound")
	hb.session(t, 0).c.Send(TextFrame([]byte("from B")))
	expectText(t, c, "from B")
	noCloses(t, ha)
}

// TestHandOffHandshakeInProgress: half a request head read by A; B reads
// the rest and upgrades.
func TestHandOffHandshakeInProgress(t *testing.T) {
	a, ha, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{})
	c := dialRaw(t, addr)
	req := []byte(upgradeRequest("/ws"))
	c.Write(req[:40])
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 1 && len(s[0].In) == 40 })
	if !sts[0].Handshake {
		t.Fatal("not exported as a handshake")
	}
	handOver(t, a, b, hb, sts)
	c.Write(req[40:])
	if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("head = %q", head)
	}
	c.Write(text("hi"))
	expectText(t, c, "hi")
	ha.mu.Lock()
	accepted := len(ha.sess)
	ha.mu.Unlock()
	if accepted != 0 || b.Stats().Upgraded != 1 {
		t.Fatalf("A accepted %d, B upgraded %d", accepted, b.Stats().Upgraded)
	}
}

// TestHandOffDeflatedFragments: a compressed message with two fragments
// received and the third cut crosses the hand-off with its RSV1 bit.
func TestHandOffDeflatedFragments(t *testing.T) {
	big := bytes.Repeat([]byte(`{"status":"ok","value":12},`), 30)
	zbig := deflateRaw(t, big)
	a, ha, addr := startServer(t, Options{Deflate: true})
	b, hb, _ := startServer(t, Options{Deflate: true})
	c, _ := connect(t, addr, offerChromium)
	last := frame(true, ws.OpContinuation, zbig[20:], true)
	c.Write(bytes.Join([][]byte{
		zframe(false, ws.OpText, zbig[:10]),
		frame(false, ws.OpContinuation, zbig[10:20], true),
		last[:4],
	}, nil))
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 1 && len(s[0].In) == 2+4+20+4 })
	if h, _, _, _ := parseHeader(sts[0].In); !sts[0].Deflate || h.Rsv != rsv1 || h.Fin {
		t.Fatalf("exported %+v with first header %+v", sts[0], h)
	}
	handOver(t, a, b, hb, sts)
	c.Write(last[4:])
	expectText(t, c, string(big))
	if got := allMessages(hb); len(got) != 1 || got[0] != "false:"+string(big) {
		t.Fatalf("B delivered %q", got)
	}
	noCloses(t, ha)
}

// BenchmarkHandOff moves handOffConns idle connections from one Server to
// a new one per iteration (Freeze, Export, dup, Adopt, Release), and
// reports the cost per connection.
func BenchmarkHandOff(b *testing.B) {
	const handOffConns = 500
	from, _, addr := startServer(b, Options{})
	for range handOffConns {
		c := dialRaw(b, addr)
		c.Write([]byte(upgradeRequest("/ws")))
		c.ReadHead()
	}
	for from.Conns() != handOffConns {
		time.Sleep(time.Millisecond)
	}
	hb := &testHandler{}
	bind := func(c *Conn) (Session, error) { return hb.Accept(c, &Request{}) }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		to, _ := serveWith(b, Options{Handler: hb, PingInterval: time.Hour})
		b.StartTimer()
		if err := from.Freeze(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, st := range from.Export() {
			st.Fd = dupFd(b, st.Fd)
			if _, err := to.Adopt(st, bind); err != nil {
				b.Fatal(err)
			}
		}
		from.Release()
		from = to
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*handOffConns), "ns/conn")
}

// TestHandOffTwice: B is frozen while it adopts, so its connections have
// not had their first turn when it hands them on to C; what they brought
// from A goes along.
func TestHandOffTwice(t *testing.T) {
	a, ha, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{})
	c3, h3, _ := startServer(t, Options{})
	cl, _ := connect(t, addr)
	whole := text("through three servers")
	cl.Write(whole[:9])
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 1 && len(s[0].In) == 9 })
	if err := b.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	handOver(t, a, b, hb, sts)
	again := b.Export()
	if len(again) != 1 || !bytes.Equal(again[0].In, whole[:9]) {
		t.Fatalf("B exported %+v", again)
	}
	handOver(t, b, c3, h3, again)
	cl.Write(whole[9:])
	expectText(t, cl, "through three servers")
	if got := allMessages(h3); len(got) != 1 || len(allMessages(hb)) != 0 {
		t.Fatalf("C delivered %q, B %q", got, allMessages(hb))
	}
	noCloses(t, ha)
	noCloses(t, hb)
}

// TestHandOffAbortedAfterAdopt: B adopts while frozen (two-phase), so it
// touches no socket; the hand-off is then called off: B releases its
// copies, A resumes, and nothing was lost or sent twice.
func TestHandOffAbortedAfterAdopt(t *testing.T) {
	a, ha, addr := startServer(t, Options{})
	b, hb, _ := startServer(t, Options{})
	c, _ := connect(t, addr)
	whole := text("not lost")
	c.Write(whole[:7])
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 1 && len(s[0].In) == 7 })
	ha.session(t, 0).c.Send(TextFrame([]byte("queued on A")))
	sts = a.Export()
	if err := b.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	bind := func(c *Conn) (Session, error) { return hb.Accept(c, &Request{}) }
	for _, st := range sts {
		st.Fd = dupFd(t, st.Fd)
		if _, err := b.Adopt(st, bind); err != nil {
			t.Fatal(err)
		}
	}
	b.Release()
	a.Resume()
	c.Write(whole[7:])
	expectText(t, c, "queued on A")
	expectText(t, c, "not lost")
	if _, _, err := c.TryReadFrame(100 * time.Millisecond); err == nil {
		t.Fatal("a frame was sent twice")
	}
	if got := allMessages(ha); len(got) != 1 || len(allMessages(hb)) != 0 {
		t.Fatalf("A delivered %q, B %q", got, allMessages(hb))
	}
	noCloses(t, ha)
}

// TestHandOffAtEveryCut: a fragmented text message with a ping between
// its fragments (and UTF-8 sequences cut between fragments) is handed
// over after every possible byte: inside a header, inside a mask key,
// inside a payload, between frames. B delivers the message once, whole,
// and the client gets one pong.
func TestHandOffAtEveryCut(t *testing.T) {
	f1 := frame(false, ws.OpText, []byte("h\xc3\xa9llo \xe2"), true)
	ping := frame(true, ws.OpPing, []byte("p"), true)
	f2 := frame(false, ws.OpContinuation, []byte("\x82\xac w\xc3\xb6rld"), true)
	f3 := frame(true, ws.OpContinuation, []byte(" ok"), true)
	stream := bytes.Join([][]byte{f1, ping, f2, f3}, nil)
	b, hb, _ := startServer(t, Options{})
	for cut := 1; cut < len(stream); cut++ {
		a, _, addr := startServer(t, Options{})
		c, _ := connect(t, addr)
		c.Write(stream[:cut])
		// What A holds once it read everything: the same bytes, less the
		// ping once answered, less one header per fragment merged.
		want := cut
		if cut >= len(f1)+len(ping) {
			want -= len(ping)
		}
		if cut >= len(f1)+len(ping)+len(f2) {
			want -= 2 + 4
		}
		sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 1 && len(s[0].In) == want })
		handOver(t, a, b, hb, sts)
		c.Write(stream[cut:])
		h, p := c.ReadFrame()
		if h.OpCode != ws.OpPong || string(p) != "p" {
			t.Fatalf("cut %d: got %v %q, want the pong", cut, h.OpCode, p)
		}
		expectText(t, c, "héllo € wörld ok")
	}
	got := allMessages(hb)
	if len(got) != len(stream)-1 {
		t.Fatalf("B delivered %d messages for %d hand-offs", len(got), len(stream)-1)
	}
	for _, m := range got {
		if m != "false:héllo € wörld ok" {
			t.Fatalf("B delivered %q", m)
		}
	}
}
