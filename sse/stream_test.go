package sse

import (
	"net/http/httptest"
	"testing"

	"github.com/fanoutd/fanoutd/netpoll"
)

// TestSSEStreamSlowConsumer: a frame over the queue's bound closes the
// stream as slow (4001), dropping what was queued.
func TestSSEStreamSlowConsumer(t *testing.T) {
	rec := httptest.NewRecorder()
	st := newStream(rec, 100)
	small := netpoll.TextFrame([]byte(`{"type":"t","channel":"c","offset":1,"epoch":"e"}`))
	if ok, _, _ := st.QueueEventAt(small, 1, netpoll.PolicyDisconnect, 0); !ok {
		t.Fatal("a frame within the bound was refused")
	}
	if ok, _, _ := st.QueueEventAt(small, 1, netpoll.PolicyDisconnect, 0); ok {
		t.Fatal("a frame over the bound was queued")
	}
	if ok := st.Send(small); ok {
		t.Fatal("a closed stream queued a frame")
	}
	code, err := st.drain()
	if err != nil || code != netpoll.CloseSlowConsumer {
		t.Fatalf("drain = %d, %v; want %d", code, err, netpoll.CloseSlowConsumer)
	}
	if got := rec.Body.String(); got != "event: close\ndata: {\"type\":\"close\",\"code\":4001,\"reason\":\"slow consumer\"}\n\n" {
		t.Fatalf("stream %q: want only the close event", got)
	}
}
