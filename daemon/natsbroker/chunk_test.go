package natsbroker

import (
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

func chunkHeader(offset, count int) nats.Header {
	h := nats.Header{}
	h.Set(hdrOffset, strconv.Itoa(offset))
	h.Set(hdrEpoch, "e")
	h.Set(hdrCount, strconv.Itoa(count))
	return h
}

func TestChunkRoundTrip(t *testing.T) {
	var body []byte
	body = appendEvent(body, "a.b", []byte(`{"x":1}`))
	body = appendEvent(body, "c", nil)
	body = appendEvent(body, "d", []byte(`2`))
	h := chunkHeader(7, 3)
	evs, err := unpack(nil, h, body)
	if err != nil || len(evs) != 3 {
		t.Fatalf("unpack: %v %v", evs, err)
	}
	if evs[0].Offset != 7 || evs[0].Type != "a.b" || string(evs[0].Payload) != `{"x":1}` ||
		evs[1].Offset != 8 || evs[1].Payload != nil || evs[2].Offset != 9 || string(evs[2].Payload) != "2" {
		t.Fatalf("unpack: %+v", evs)
	}
	if got := lastOffset(h); got != 9 {
		t.Fatalf("lastOffset %d, want 9", got)
	}
	if _, err := unpack(nil, chunkHeader(7, 4), body); err == nil {
		t.Fatal("a chunk shorter than its count parsed")
	}
	if _, err := unpack(nil, chunkHeader(7, 2), body); err == nil {
		t.Fatal("a chunk longer than its count parsed")
	}
}

// FuzzUnpack: whatever a stored message holds, unpack neither panics nor
// returns events beyond the body.
func FuzzUnpack(f *testing.F) {
	f.Add(appendEvent(appendEvent(nil, "t", []byte("1")), "u", nil), 2)
	f.Add([]byte{0xff, 0xff, 0xff}, 1)
	f.Fuzz(func(t *testing.T, body []byte, count int) {
		evs, err := unpack(nil, chunkHeader(1, count), body)
		if err != nil {
			return
		}
		n := 0
		for _, ev := range evs {
			n += len(ev.Type) + len(ev.Payload) + 2 // each field takes at least a length byte
		}
		if len(evs) != count || n > len(body) {
			t.Fatalf("unpack of %x (count %d): %d events, %d bytes", body, count, len(evs), n)
		}
	})
}
