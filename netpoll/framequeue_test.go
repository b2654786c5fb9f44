package netpoll

import (
	"bytes"
	"strings"
	"testing"
)

func TestPayloadUnwrapsServerFrames(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		p := []byte(strings.Repeat("x", n))
		if got := Payload(TextFrame(p)); !bytes.Equal(got, p) {
			t.Errorf("Payload(TextFrame(%d bytes)) = %d bytes", n, len(got))
		}
	}
	f := TextFrame([]byte("hello"))
	for name, b := range map[string][]byte{
		"short":     f[:len(f)-1],
		"long":      append(append([]byte{}, f...), 'x'),
		"no header": f[:1],
		"masked":    {0x81, 0x80 | 1, 1, 2, 3, 4, 'x'},
	} {
		if got := Payload(b); got != nil {
			t.Errorf("%s: Payload = %q, want nil", name, got)
		}
	}
}

func TestFrameQueuePolicies(t *testing.T) {
	frame := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name        string
		policy      int
		wantOK      bool
		wantDropped int
		wantFrames  []string
	}{
		{"disconnect refuses", PolicyDisconnect, false, 0, nil},
		{"drop-oldest drops the oldest event", PolicyDropOldest, true, 2, []string{"reply", "event-c"}},
		{"latest replaces its key's frame", PolicyLatest, true, 1, []string{"reply", "event-c", "event-b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q FrameQueue
			const bound = 600 // room for the three frames, not a fourth
			q.Add(frame("reply"), 0, PolicyDisconnect, bound)
			q.Add(append(frame("event-a"), make([]byte, 290)...), 1, tc.policy, bound)
			q.Add(append(frame("event-b"), make([]byte, 290)...), 2, tc.policy, bound)
			ok, dropped := q.Add(append(frame("event-c"), make([]byte, 290)...), 1, tc.policy, bound)
			if ok != tc.wantOK || dropped != tc.wantDropped {
				t.Fatalf("Add = %v, %d; want %v, %d", ok, dropped, tc.wantOK, tc.wantDropped)
			}
			if !ok {
				return
			}
			var got []string
			for _, f := range q.Take(nil) {
				got = append(got, string(bytes.TrimRight(f, "\x00")))
			}
			if strings.Join(got, ",") != strings.Join(tc.wantFrames, ",") {
				t.Errorf("frames = %v, want %v", got, tc.wantFrames)
			}
			if q.Len() != 0 {
				t.Errorf("Len after Take = %d", q.Len())
			}
		})
	}
}
