package fanoutd

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/internal/cputime"
	"github.com/fanoutd/fanoutd/internal/wstest"
)

// BenchmarkHandshake is one whole authenticated upgrade over loopback: TCP
// connect, request, token verification, 101 and welcome, then close. The
// client's side is in the same process, so ns/op bounds the server's cost
// from above; allocs/op covers both sides.
func BenchmarkHandshake(b *testing.B) {
	for _, offer := range []string{"", deflateOffer} {
		name := "plain"
		if offer != "" {
			name = "deflate" // Chromium's permessage-deflate offer, accepted
		}
		b.Run(name, func(b *testing.B) {
			d := startDaemonB(b)
			req := []byte(wstest.UpgradeRequest("/ws", "Authorization: Bearer "+tokenB(b, "bench", "*")+"\r\n", offer))
			buf := make([]byte, 4096)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				nc, br := upgradeB(b, d.addr, req)
				_, _ = io.ReadAtLeast(br, buf, 1)
				_ = nc.Close()
			}
		})
	}
	// subscribe: the connect of the hold scenarios (bench/compare.sh):
	// the upgrade and welcome, then a subscribe command to a channel of
	// its own, answered "subscribed".
	b.Run("subscribe", func(b *testing.B) {
		d := startDaemonB(b)
		req := []byte(wstest.UpgradeRequest("/ws", "Authorization: Bearer "+tokenB(b, "bench", "bench:*")+"\r\n"))
		buf := make([]byte, 4096)
		var sub []byte
		b.ReportAllocs()
		cpu0 := int64(cputime.Self())
		b.ResetTimer()
		for i := range b.N {
			nc, br := upgradeB(b, d.addr, req)
			if _, err := readUntil(br, buf, `"welcome"`); err != nil {
				b.Fatal(err)
			}
			sub = subscribeFrame(sub[:0], i)
			if _, err := nc.Write(sub); err != nil {
				b.Fatal(err)
			}
			if _, err := readUntil(br, buf, `"subscribed"`); err != nil {
				b.Fatal(err)
			}
			_ = nc.Close()
		}
		b.StopTimer()
		// The process's CPU time, both sides and their system calls: what
		// a busy machine does not inflate the way it inflates wall time.
		b.ReportMetric(float64(int64(cputime.Self())-cpu0)/float64(b.N), "cpu-ns/op")
	})
}

// upgradeB connects to addr, sends the upgrade request req and reads the
// 101's status line.
func upgradeB(b *testing.B, addr string, req []byte) (net.Conn, *bufio.Reader) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := nc.Write(req); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReaderSize(nc, 512)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		b.Fatalf("upgrade: %q %v", status, err)
	}
	return nc, br
}

// subscribeFrame appends a masked text frame subscribing to channel
// bench:i (short enough for the 7-bit length).
func subscribeFrame(dst []byte, i int) []byte {
	start := len(dst)
	dst = append(dst, 0x81, 0x80, 1, 2, 3, 4)
	p := len(dst)
	dst = append(dst, `{"action":"subscribe","channel":"bench:`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, `","id":1}`...)
	dst[start+1] |= byte(len(dst) - p)
	for j := p; j < len(dst); j++ {
		dst[j] ^= dst[start+2+(j-p)%4]
	}
	return dst
}

// readUntil reads from br until what it read holds want.
func readUntil(br *bufio.Reader, buf []byte, want string) (int, error) {
	n := 0
	for !strings.Contains(string(buf[:n]), want) {
		if n == len(buf) {
			return n, io.ErrShortBuffer
		}
		m, err := br.Read(buf[n:])
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}
