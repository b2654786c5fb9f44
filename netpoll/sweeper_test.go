package netpoll

import "testing"

// TestPingClock: Conn.ping's two kinds of time read back as stored, on
// either side of the clock's origin, and a freeze's shift (shiftClocks)
// moves the time and keeps the kind.
func TestPingClock(t *testing.T) {
	const d = int64(3600e9)
	for _, at := range []int64{-7, 1, 5e9, 1 << 61} {
		for _, v := range []int64{pingDue(at), pingSent(at)} {
			sent := v == pingSent(at)
			if v>>1 != at || (v&1 != 0) != sent {
				t.Fatalf("at %d (sent %v): stored %d reads %d, sent %v", at, sent, v, v>>1, v&1 != 0)
			}
			if w := v + d<<1; w>>1 != at+d || w&1 != v&1 {
				t.Fatalf("at %d (sent %v): shifted reads %d, kind %d", at, sent, w>>1, w&1)
			}
		}
	}
}
