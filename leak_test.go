package fanoutd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/wstest"
	"github.com/gobwas/ws"
)

// TestNoLeaksAfterManyConnectCycles: 10,000 connect, upgrade, subscribe,
// close cycles (half closed abruptly, half with a closing handshake) leave
// no connection, no session, no goroutine and no descriptor behind.
func TestNoLeaksAfterManyConnectCycles(t *testing.T) {
	d := startDaemon(t)
	tok := token(t, "leak", "room:*")
	req := []byte(wstest.UpgradeRequest("/ws", "Authorization: Bearer "+tok+"\r\n"))
	sub := wstest.Text(`{"action":"subscribe","channel":"room:all","id":"s"}`)
	closeFrame := wstest.Frame(true, ws.OpClose, wstest.CloseBody(1000, ""), true)

	run := func(total, workers int) {
		t.Helper()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(total) {
						return
					}
					if err := connectCycle(d.addr, req, sub, closeFrame, i%2 == 1); err != nil {
						errs <- fmt.Errorf("cycle %d: %w", i, err)
						next.Store(int64(total)) // stop the others
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		waitIdle(t, d)
	}

	run(50, 4) // warm-up: pools, buffers and the hub's first channel
	baseG, baseFD := runtime.NumGoroutine(), fdCount(t)

	start := time.Now()
	const cycles = 10_000
	run(cycles, 4)
	elapsed := time.Since(start)

	// Goroutines that are on their way out (none are expected) get a moment.
	deadline := time.Now().Add(5 * time.Second)
	g, fd := runtime.NumGoroutine(), fdCount(t)
	for (g > baseG+2 || fd > baseFD+2) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		g, fd = runtime.NumGoroutine(), fdCount(t)
	}
	st := d.srv.Stats()
	t.Logf("%d cycles in %v: goroutines %d -> %d, fds %d -> %d, upgraded %d", cycles, elapsed, baseG, g, baseFD, fd, st.Transport.Upgraded)
	if g > baseG+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines grew from %d to %d:\n%s", baseG, g, buf[:runtime.Stack(buf, true)])
	}
	if fd > baseFD+2 {
		t.Errorf("descriptors grew from %d to %d", baseFD, fd)
	}
	if got := st.Transport.Upgraded; got != cycles+50 {
		t.Errorf("upgraded = %d, want %d", got, cycles+50)
	}
	if st.Subscriptions != 0 {
		t.Errorf("subscriptions = %d after every client left", st.Subscriptions)
	}
}

// waitIdle polls until the daemon holds no connection, no session and no
// subscription.
func waitIdle(t *testing.T, d *testDaemon) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := d.srv.Stats()
		if st.Connections == 0 && st.Transport.Conns == 0 && st.Subscriptions == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not idle 30 s after the clients left: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connectCycle opens one raw connection, upgrades, subscribes, reads up to
// the subscribed reply and closes: abruptly, or with a close frame 1000
// whose echo it waits for. The socket is always closed on return.
func connectCycle(addr string, req, sub, closeFrame []byte, handshake bool) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = nc.Close() }()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := nc.Write(req); err != nil {
		return err
	}
	br := bufio.NewReaderSize(nc, 1024)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return fmt.Errorf("upgrade: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("response head: %w", err)
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := nc.Write(sub); err != nil {
		return err
	}
	for {
		h, p, err := readFrame(br)
		if err != nil {
			return fmt.Errorf("waiting for the subscribed reply: %w", err)
		}
		if h.OpCode == ws.OpClose {
			return fmt.Errorf("closed by the server: %q", p)
		}
		if bytes.HasPrefix(p, []byte(`{"type":"subscribed"`)) {
			break
		}
	}
	if !handshake {
		return nil
	}
	if _, err := nc.Write(closeFrame); err != nil {
		return err
	}
	for {
		h, p, err := readFrame(br)
		if err != nil {
			return fmt.Errorf("waiting for the close echo: %w", err)
		}
		if h.OpCode != ws.OpClose {
			continue
		}
		if len(p) < 2 || binary.BigEndian.Uint16(p) != 1000 {
			return fmt.Errorf("close echo %q, want 1000", p)
		}
		return nil
	}
}

func readFrame(br *bufio.Reader) (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(br)
	if err != nil {
		return h, nil, err
	}
	if h.Length > 1<<20 {
		return h, nil, fmt.Errorf("frame of %d bytes", h.Length)
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(br, p)
	return h, p, err
}
