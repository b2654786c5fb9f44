package fanoutd

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/wstest"
	"github.com/gobwas/ws"
)

const deflateOffer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

// inflateMessage inflates a permessage-deflate payload as a client does.
func inflateMessage(t *testing.T, p []byte) []byte {
	t.Helper()
	tail := []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}
	out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(tail))))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

// rawSubscriber connects a raw client to /ws offering deflate (or not) and
// subscribes it to channel.
func rawSubscriber(t *testing.T, d *testDaemon, deflate bool, channel string) *wstest.Client {
	t.Helper()
	extra := []string{"Sec-WebSocket-Protocol: fanout.v1, bearer." + token(t, "u", "*") + "\r\n"}
	if deflate {
		extra = append(extra, deflateOffer)
	}
	c, head := wstest.Connect(t, d.addr, "/ws", extra...)
	if got := strings.Contains(head, "permessage-deflate"); got != deflate {
		t.Fatalf("deflate in response = %v, want %v: %q", got, deflate, head)
	}
	c.ReadFrame() // welcome
	c.Write(wstest.Text(`{"action":"subscribe","channel":"` + channel + `"}`))
	if _, p := c.ReadFrame(); !bytes.Contains(p, []byte(`"subscribed"`)) {
		t.Fatalf("subscribe reply %q", p)
	}
	return c
}

// TestEventsCompressedOnceForDeflateSubscribers: with the default settings
// (compression auto above 512 bytes), an event of 2 KB reaches subscribers
// that negotiated deflate as one compressed frame (the same for all: one
// compression counted) and the others plain; a small event goes plain to
// everyone; a channel class with compression off sends everything plain.
func TestEventsCompressedOnceForDeflateSubscribers(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Channels = []config.ChannelClass{{Prefix: "ticks:", Compression: "off"}}
	})
	big := dashboardJSON(2000)
	zs := []*wstest.Client{rawSubscriber(t, d, true, "dash"), rawSubscriber(t, d, true, "dash")}
	plain := rawSubscriber(t, d, false, "dash")
	d.publish("dash", "snapshot", big)
	var wire []byte
	for i, c := range zs {
		h, p := c.ReadFrame()
		if h.Rsv != 4 || h.OpCode != ws.OpText {
			t.Fatalf("deflate subscriber %d: frame rsv=%d op=%v, want compressed text", i, h.Rsv, h.OpCode)
		}
		if i == 0 {
			wire = p
		} else if !bytes.Equal(p, wire) {
			t.Fatal("the two deflate subscribers got different bytes")
		}
		var ev struct{ Type, Channel string }
		if err := json.Unmarshal(inflateMessage(t, p), &ev); err != nil || ev.Type != "snapshot" {
			t.Fatalf("inflated event %+v, %v", ev, err)
		}
	}
	if h, p := plain.ReadFrame(); h.Rsv != 0 || !bytes.Contains(p, []byte(big)) {
		t.Fatalf("plain subscriber: rsv=%d", h.Rsv)
	}
	if len(wire)*3 > len(big) {
		t.Errorf("2 KB of dashboard JSON compressed to %d bytes only", len(wire))
	}
	st := d.srv.Stats()
	if st.CompressedEvents != 1 || st.Transport.DeflateUpgraded != 2 {
		t.Fatalf("compressed_events = %d, deflate_upgraded = %d; want 1, 2", st.CompressedEvents, st.Transport.DeflateUpgraded)
	}

	d.publish("dash", "tick", `{"cpu":0.5}`)
	for _, c := range append(zs, plain) {
		if h, _ := c.ReadFrame(); h.Rsv != 0 {
			t.Fatal("a 40-byte event went compressed")
		}
	}
	tick := rawSubscriber(t, d, true, "ticks:cpu")
	d.publish("ticks:cpu", "snapshot", big)
	if h, _ := tick.ReadFrame(); h.Rsv != 0 {
		t.Fatal("a channel class with compression off sent a compressed frame")
	}
	if st := d.srv.Stats(); st.CompressedEvents != 1 {
		t.Fatalf("compressed_events = %d, want 1", st.CompressedEvents)
	}
}

// TestEchoRouteDeflate: the echo route inflates what it is sent and answers
// compressed when deflate was negotiated.
func TestEchoRouteDeflate(t *testing.T) {
	d := startDaemon(t, withEcho)
	c, head := wstest.Connect(t, d.addr, "/echo", deflateOffer)
	if !strings.Contains(head, "permessage-deflate") {
		t.Fatalf("head %q", head)
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = w.Write([]byte("héllo héllo héllo"))
	_ = w.Flush()
	f := wstest.Frame(true, ws.OpText, bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff}), true)
	f[0] |= 0x40
	c.Write(f)
	h, p := c.ReadFrame()
	if h.Rsv != 4 || string(inflateMessage(t, p)) != "héllo héllo héllo" {
		t.Fatalf("echo rsv=%d", h.Rsv)
	}
}

// dashboardJSON is about n bytes of dashboard-like JSON: repeated keys,
// small numbers, status strings.
func dashboardJSON(n int) string {
	var b strings.Builder
	b.WriteString(`{"hosts":[`)
	for i := 0; b.Len() < n-2; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"host":"web-%d","cpu":%d.%d,"mem":%d,"status":"ok"}`, i, i%97, i%10, 1000+i*7)
	}
	b.WriteString(`]}`)
	return b.String()
}
