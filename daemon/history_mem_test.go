package daemon

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// testFrame is netpoll.TextFrame's allocation: the message and room for
// the longest header (the core does not import the transport).
func testFrame(msg []byte) []byte {
	f := make([]byte, 0, len(msg)+10)
	f = append(f, 0x81, 126, byte(len(msg)>>8), byte(len(msg)))
	return append(f, msg...)
}

// TestHistoryBytesMatchesTheHeap: Stats.HistoryBytes, what
// history.max_bytes bounds, is what the history really holds: measured as
// the heap's growth while channels fill their histories with 250-byte
// events (and whatever else a channel kept only for its history costs),
// the accounted bytes are within 15% of it. Counting only the frames'
// lengths undercounted ~1.7×.
func TestHistoryBytesMatchesTheHeap(t *testing.T) {
	for _, tc := range []struct {
		name              string
		channels, perChan int
		payload           int
	}{
		{"250-byte events, full rings", 200, 100, 250},
		{"250-byte events, partly filled rings", 2000, 10, 250},
		{"250-byte events, one per channel", 20000, 1, 250},
		{"2 KiB events", 100, 50, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := New(Options{DefaultChannel: ChannelOptions{HistorySize: 100}, HistoryMaxBytes: 1 << 40, Frame: testFrame})
			payload := []byte(`"` + strings.Repeat("x", tc.payload-2) + `"`)
			names := make([]string, tc.channels)
			for i := range names {
				names[i] = "room:" + strconv.Itoa(i)
			}
			var before, after runtime.MemStats
			// Twice: a sync.Pool used since the last GC is reachable from
			// the runtime's pool list for one more cycle, and with it the
			// Node it is a field of; earlier tests' nodes would otherwise
			// be freed during the measurement.
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range tc.perChan {
				for _, ch := range names {
					if err := n.Publish(context.Background(), ch, "msg", payload); err != nil {
						t.Fatal(err)
					}
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			measured := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			accounted := float64(n.Stats().HistoryBytes)
			runtime.KeepAlive(n)
			ratio := accounted / measured
			t.Logf("%d events: accounted %.0f bytes, heap grew %.0f bytes (%.0f per event): ratio %.2f",
				tc.channels*tc.perChan, accounted, measured, measured/float64(tc.channels*tc.perChan), ratio)
			if ratio < 0.85 || ratio > 1.15 {
				t.Errorf("accounted/measured = %.2f, want within 0.85–1.15", ratio)
			}
		})
	}
}
