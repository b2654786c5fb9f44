package netpoll

import (
	"bytes"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIdleConnHeap reports the heap that each idle, handshaken
// connection costs the server: live heap bytes (HeapAlloc after GC) and
// in-use heap spans (HeapInuse) per connection, for n real loopback
// connections. The clients are raw descriptors (no net.Conn, no
// goroutine), so the figures are the server's alone. Run it once:
//
//	go test -run '^$' -bench IdleConnHeap -benchtime=1x ./netpoll
func BenchmarkIdleConnHeap(b *testing.B) {
	const n = 2000
	srv, addr := serveWith(b, Options{Handler: acceptAll{}, PingInterval: time.Hour, MaxConns: n + 10})
	port := netip.MustParseAddrPort(addr).Port()
	fds := make([]int, 0, n+1) // allocated before the first reading
	b.Cleanup(func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	})
	fds = append(fds, rawUpgrade(b, port)) // workers' buffers and pools exist before the first reading
	// Two sweeps and a margin: an idle queue's array goes on the second
	// (writeQueue.trim).
	settle := 2*srv.opts.sweepEvery() + 200*time.Millisecond
	a0, i0 := settledHeap(settle)
	for range n {
		fds = append(fds, rawUpgrade(b, port))
	}
	a1, i1 := settledHeap(settle)
	if got := srv.Stats().Conns; got != n+1 {
		b.Fatalf("%d connections, want %d", got, n+1)
	}
	for b.Loop() {
	}
	b.ReportMetric(float64(int64(a1-a0))/n, "heapB/conn") // after the loop, which clears reported metrics
	b.ReportMetric(float64(int64(i1-i0))/n, "inuseB/conn")
	runtime.KeepAlive(fds)
}

// settledHeap waits for the server to settle (the last writes are
// accounted for after the client reads them; the sweeper trims idle queues),
// then collects garbage and returns HeapAlloc and HeapInuse.
func settledHeap(wait time.Duration) (alloc, inuse uint64) {
	time.Sleep(wait)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapInuse
}

// rawUpgrade connects a client made of a bare descriptor to 127.0.0.1:port,
// upgrades it and reads the response head.
func rawUpgrade(b *testing.B, port uint16) int {
	b.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	tv := syscall.Timeval{Sec: 5}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(port), Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	if _, err := syscall.Write(fd, []byte(upgradeRequest("/ws"))); err != nil {
		b.Fatal(err)
	}
	var head []byte
	buf := make([]byte, 512)
	for !bytes.Contains(head, headEnd) {
		k, err := syscall.Read(fd, buf)
		if err != nil || k == 0 {
			b.Fatalf("reading the response: %d bytes, %v", k, err)
		}
		head = append(head, buf[:k]...)
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
		b.Fatalf("response %q", head)
	}
	return fd
}
