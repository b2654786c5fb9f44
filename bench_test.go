package fanoutd

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

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
				nc, err := net.Dial("tcp", d.addr)
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
				_, _ = io.ReadAtLeast(br, buf, 1)
				_ = nc.Close()
			}
		})
	}
}
