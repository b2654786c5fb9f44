package daemon

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
)

// deflateFake is a fakeTransport that negotiated compression.
type deflateFake struct{ *fakeTransport }

func (deflateFake) Deflate() bool { return true }

var _ DeflateTransport = deflateFake{}

// markCompress is an Options.Compress that counts its calls and "compresses"
// by prefixing a marker and keeping half the frame, so that tests can tell
// the frames apart and the result is smaller. big makes it return a larger
// frame instead, as deflate does with incompressible payloads.
type markCompress struct {
	calls atomic.Int64
	big   bool
}

func (m *markCompress) compress(frame []byte) []byte {
	m.calls.Add(1)
	if m.big {
		return append([]byte("Z:"), frame...)
	}
	return append([]byte("Z:"), frame[:len(frame)/2]...)
}

func TestCompressOncePerEvent(t *testing.T) {
	payload := []byte(`{"v":"` + strings.Repeat("x", 600) + `"}`)
	cases := []struct {
		name      string
		min       int
		big       bool
		payload   []byte
		deflaters int
		wantCalls int64 // per event
		wantZ     bool  // deflate subscribers get the compressed frame
	}{
		{name: "many subscribers, one compression", min: 1, payload: payload, deflaters: 5, wantCalls: 1, wantZ: true},
		{name: "above threshold", min: 512, payload: payload, deflaters: 3, wantCalls: 1, wantZ: true},
		{name: "below threshold", min: 512, payload: []byte(`{"v":1}`), deflaters: 3},
		{name: "channel compression off", min: 0, payload: payload, deflaters: 3},
		{name: "no subscriber negotiated", min: 1, payload: payload},
		{name: "not smaller: plain sent", min: 1, big: true, payload: payload, deflaters: 3, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mc := &markCompress{big: tc.big}
			n := New(Options{Compress: mc.compress, DefaultChannel: ChannelOptions{CompressMin: tc.min}})
			var zs, plains []*fakeTransport
			for range tc.deflaters {
				ft := &fakeTransport{}
				s := n.Connect(deflateFake{ft}, Identity{Subject: "z", Channels: []string{"*"}})
				ft.only(t)
				subscribe(t, s, ft, "dash")
				zs = append(zs, ft)
			}
			for range 2 {
				s, ft := connect(t, n, "p", "*")
				subscribe(t, s, ft, "dash")
				plains = append(plains, ft)
			}
			const events = 3
			for range events {
				if err := n.Publish(context.Background(), "dash", "tick", tc.payload); err != nil {
					t.Fatal(err)
				}
			}
			if got := mc.calls.Load(); got != tc.wantCalls*events {
				t.Fatalf("Compress called %d times for %d events, want %d", got, events, tc.wantCalls*events)
			}
			var first [][]byte
			for i, ft := range zs {
				got := ft.raw()
				if len(got) != events {
					t.Fatalf("deflate subscriber %d got %d frames", i, len(got))
				}
				for j, f := range got {
					if isZ := bytes.HasPrefix(f, []byte("Z:")); isZ != tc.wantZ {
						t.Fatalf("deflate subscriber %d frame %d compressed = %v, want %v", i, j, isZ, tc.wantZ)
					}
					if i == 0 {
						first = append(first, f)
					} else if &f[0] != &first[j][0] {
						t.Fatalf("subscriber %d got its own copy of event %d, not the shared frame", i, j)
					}
				}
			}
			for i, ft := range plains {
				for _, m := range ft.messages(t) { // each decodes as JSON: never compressed
					if m.str(t, "type") != "tick" {
						t.Fatalf("plain subscriber %d got %v", i, m)
					}
				}
			}
			if tc.wantZ {
				if got := n.Stats().CompressedEvents; got != events {
					t.Fatalf("CompressedEvents = %d, want %d", got, events)
				}
			}
		})
	}
}
