package fanoutd

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/netpoll"
)

// BenchmarkHandOffImage: encoding and decoding the image of 18,000
// subscribed connections, as a hand-off does while every client waits
// (`go test -run '^$' -bench HandOffImage -benchmem .`).
func BenchmarkHandOffImage(b *testing.B) {
	const n = 18000
	conns := make([]connImage, n)
	for i := range conns {
		id := fmt.Sprintf("a1b2c3d4-%x", i)
		conns[i] = connImage{
			Key: handoff.ConnKey(netip.MustParseAddrPort("127.0.0.1:8080"), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(i))),
			Transport: netpoll.ConnState{Remote: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(i)),
				Local: netip.MustParseAddrPort("127.0.0.1:8080"), ID: id},
			Session: &daemon.SessionState{ID: id, Subject: fmt.Sprintf("user-%d", i), Patterns: []string{"project:*", "user:{sub}:*"},
				TokenID: fmt.Sprintf("jti-%d", i), Expires: time.Now().Add(time.Hour).UnixNano(),
				Channels: []daemon.SubState{{Channel: fmt.Sprintf("project:%d", i%100), Offset: 4242, Epoch: "a1b2c3d4-2s"}}},
		}
	}
	sections := map[string]any{sectionMeta: imageMeta{Version: "bench", Connections: n}}
	for i := range transportParts {
		sections[transportPart(i)] = conns[i*n/transportParts : (i+1)*n/transportParts]
	}
	img, err := handoff.Encode(sections)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(img)))
		for b.Loop() {
			if _, err := handoff.Encode(sections); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(img)))
		for b.Loop() {
			var meta imageMeta
			into := map[string]any{sectionMeta: &meta}
			var parts [transportParts][]connImage
			for i := range parts {
				into[transportPart(i)] = &parts[i]
			}
			if err := handoff.Decode(img, into); err != nil {
				b.Fatal(err)
			}
		}
	})
}
