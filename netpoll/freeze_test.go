package netpoll

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestResumeAfterExport: a hand-off that fails leaves A serving everyone;
// what clients sent and what was queued while frozen goes through.
func TestResumeAfterExport(t *testing.T) {
	const n = 20
	a, ha, addr := startServer(t, Options{})
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i], _ = connect(t, addr)
	}
	half := text("split across the freeze")
	clients[0].Write(half[:5])
	sts := freezeWhen(t, a, func(s []ConnState) bool { return len(s) == n })
	clients[0].Write(half[5:]) // the rest of the frame comes first
	for i, c := range clients {
		c.Write(text(fmt.Sprint("frozen ", i)))
	}
	ha.mu.Lock()
	for _, s := range ha.sess {
		s.c.Send(TextFrame([]byte("queued while frozen")))
	}
	ha.mu.Unlock()
	if again := a.Export(); len(again) != len(sts) {
		t.Fatalf("second export has %d states, first %d", len(again), len(sts))
	}
	a.Resume()
	for i, c := range clients {
		want := []string{"queued while frozen", fmt.Sprint("frozen ", i)}
		if i == 0 {
			want = []string{"queued while frozen", "split across the freeze", "frozen 0"}
		}
		var got []string
		for range want {
			_, p := c.ReadFrame()
			got = append(got, string(p))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("client %d got %q, want %q", i, got, want)
		}
	}
	noCloses(t, ha)
}

// TestAcceptDuringFreeze: a client that connects while frozen waits in
// the backlog and is served after Resume.
func TestAcceptDuringFreeze(t *testing.T) {
	a, ha, addr := startServer(t, Options{})
	if err := a.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, addr)
	c.Write([]byte(upgradeRequest("/ws")))
	time.Sleep(50 * time.Millisecond)
	if a.Conns() != 0 {
		t.Fatalf("accepted %d while frozen", a.Conns())
	}
	a.Resume()
	if head := c.ReadHead(); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("head = %q", head)
	}
	c.Write(text("late"))
	expectText(t, c, "late")
	if ha.session(t, 0) == nil {
		t.Fatal("no session")
	}
}

// TestFreezeGivesUpWithContext: a freeze that cannot finish (a turn is
// stuck in the session) undoes itself, and the transport goes on.
func TestFreezeGivesUpWithContext(t *testing.T) {
	block := make(chan struct{})
	h := &testHandler{echo: true}
	a, _, addr := startServer(t, Options{Handler: h})
	c, _ := connect(t, addr)
	s := h.session(t, 0)
	s.mu.Lock() // the next Message blocks its worker's turn
	c.Write(text("stuck"))
	go func() { <-block; s.mu.Unlock() }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Freeze(ctx); err != context.DeadlineExceeded {
		t.Fatalf("freeze = %v", err)
	}
	close(block)
	expectText(t, c, "stuck")
	c.Write(text("after"))
	expectText(t, c, "after")
}

// TestFreezeCountsAgainstNoClient: a freeze as long as an hour (on a fake
// clock) moves the heartbeat schedule and the message deadline on by an
// hour, so that Resume neither pings everyone at once nor times out a
// message that was arriving.
func TestFreezeCountsAgainstNoClient(t *testing.T) {
	clock := &fakeClock{base: time.Now()}
	a, ha, addr := startServer(t, Options{Now: clock.now, PingInterval: time.Minute,
		PongTimeout: time.Minute, MessageTimeout: time.Minute})
	// Before the connect: the first ping is jittered up to PingInterval
	// from the accept, and a clock moved after it could reach a ping drawn
	// under a second (1 run in 60) before the freeze.
	clock.offset.Add(int64(time.Second)) // 0 means "none" to these clocks
	c, _ := connect(t, addr)
	c.Write(text("slow")[:4])
	freezeWhen(t, a, func(s []ConnState) bool { return len(s) == 1 && len(s[0].In) == 4 })
	conn := ha.session(t, 0).c
	ping, began := conn.ping.Load()>>1, conn.msgStart.Load()
	if ping == 0 || began == 0 {
		t.Fatalf("next ping %d, message start %d", ping, began)
	}
	clock.offset.Add(int64(time.Hour))
	a.Resume()
	if d := conn.ping.Load()>>1 - ping; d != int64(time.Hour) {
		t.Fatalf("next ping moved by %v", time.Duration(d))
	}
	if d := conn.msgStart.Load() - began; d != int64(time.Hour) {
		t.Fatalf("message start moved by %v", time.Duration(d))
	}
	if _, _, err := c.TryReadFrame(3 * a.opts.sweepEvery()); err == nil {
		t.Fatal("the client got a frame (ping or close) after the freeze")
	}
	c.Write(text("slow")[4:])
	expectText(t, c, "slow")
}

// TestReleaseHandsTheListenerOn: Serve returns after Release and the
// listener stays open for the next owner, which adopted before serving; a
// connection that was closing is closed for real, never exported.
func TestReleaseHandsTheListenerOn(t *testing.T) {
	ha := &testHandler{echo: true}
	a, err := NewServer(Options{Handler: ha, PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hb := &testHandler{echo: true}
	b, err := NewServer(Options{Handler: hb, PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- a.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx, CloseGoingAway, "")
		_ = ln.Close()
		<-served
	})
	addr := ln.Addr().String()
	stay, _ := connect(t, addr)
	leave, _ := connect(t, addr)
	if err := a.Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	ha.session(t, 1).c.Close(CloseGoingAway, "bye") // queued, never written
	sts := a.Export()
	if len(sts) != 1 {
		t.Fatalf("exported %d, want only the connection that is not closing", len(sts))
	}
	handOver(t, a, b, hb, sts)
	select {
	case err := <-served:
		if err != ErrServerClosed {
			t.Fatalf("A's Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("A's Serve did not return after Release")
	}
	leave.ExpectEOF()
	go func() { served <- b.Serve(ln) }()
	stay.Write(text("still here"))
	expectText(t, stay, "still here")
	fresh, _ := connect(t, addr)
	fresh.Write(text("new"))
	expectText(t, fresh, "new")
	if b.Conns() != 2 {
		t.Fatalf("B holds %d", b.Conns())
	}
	noCloses(t, ha)
}

// TestReleaseWithoutFreeze: Release freezes by itself; later calls, a
// Freeze and a Shutdown after it do nothing harmful.
func TestReleaseWithoutFreeze(t *testing.T) {
	a, ha, addr := startServer(t, Options{})
	c, _ := connect(t, addr)
	ha.session(t, 0)
	a.Release()
	a.Release()
	if err := a.Freeze(context.Background()); err != ErrServerClosed {
		t.Fatalf("freeze after release: %v", err)
	}
	if a.Export() != nil || a.Conns() != 0 {
		t.Fatal("a released server still has connections")
	}
	a.Resume()
	if err := a.Shutdown(context.Background(), CloseGoingAway, ""); err != nil {
		t.Fatalf("shutdown after release: %v", err)
	}
	// Nobody holds the socket any more: the client sees the end, no frame.
	c.ExpectEOF()
	noCloses(t, ha)
}

// TestReleaseWithAnAcceptLoop: Release does not wait for a Serve blocked
// in the Accept of a listener without a raw descriptor; that Serve
// returns once the owner closes the listener.
func TestReleaseWithAnAcceptLoop(t *testing.T) {
	a, err := NewServer(Options{Handler: &testHandler{echo: true}, PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := struct{ net.Listener }{tl} // hides the descriptor: Serve uses Accept
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	c, _ := connect(t, tl.Addr().String())
	c.Write(text("hi"))
	expectText(t, c, "hi")
	released := make(chan struct{})
	go func() { a.Release(); close(released) }()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("Release waited for the Accept loop")
	}
	_ = tl.Close()
	select {
	case err := <-served:
		if err != ErrServerClosed {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return once its listener was closed")
	}
}
