package natsbroker

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/nats-io/nats.go"
)

// A stored message holds one event or a chunk of consecutive events of one
// channel. One event: the Fanoutd-Type header names its type and the body
// is its payload (the format of earlier versions, still read). A chunk:
// Fanoutd-Count says how many, Fanoutd-Offset is the first one's offset,
// and the body is, per event, uvarint(len(type)) type uvarint(len(payload))
// payload. A chunk takes one compare-and-set and one stored message for
// many events: that is how one channel's concurrent publishes cost one
// round trip.
const hdrCount = "Fanoutd-Count"

// maxChunkBytes bounds a chunk's body, well under NATS's default 1 MiB
// max_payload.
const maxChunkBytes = 512 << 10

// chunkLimit is the most a chunk's body may hold: maxChunkBytes, or less
// when the server takes smaller messages (max_payload, less room for the
// headers). A lone event larger than that is sent alone, and the server
// refuses it as it would anyway.
func (b *Broker) chunkLimit() int {
	if mp := int(b.nc.MaxPayload()) - 4<<10; mp > 0 && mp < maxChunkBytes {
		return mp
	}
	return maxChunkBytes
}

// errBadChunk: a stored message's body does not parse as its headers say.
var errBadChunk = errors.New("natsbroker: malformed chunk")

// appendEvent appends one event to a chunk body.
func appendEvent(body []byte, eventType string, payload []byte) []byte {
	body = binary.AppendUvarint(body, uint64(len(eventType)))
	body = append(body, eventType...)
	body = binary.AppendUvarint(body, uint64(len(payload)))
	return append(body, payload...)
}

// chunkSize is what an event adds to a chunk body.
func chunkSize(eventType string, payload []byte) int {
	return 2*binary.MaxVarintLen32 + len(eventType) + len(payload)
}

// lastOffset returns the offset of the last event a stored message holds.
func lastOffset(h nats.Header) uint64 {
	offset, _ := strconv.ParseUint(h.Get(hdrOffset), 10, 64)
	if n, err := strconv.ParseUint(h.Get(hdrCount), 10, 32); err == nil && n > 1 {
		return offset + n - 1
	}
	return offset
}

// unpack returns the events a stored message holds, appended to dst.
func unpack(dst []daemon.BrokerEvent, h nats.Header, data []byte) ([]daemon.BrokerEvent, error) {
	offset, _ := strconv.ParseUint(h.Get(hdrOffset), 10, 64)
	epoch := h.Get(hdrEpoch)
	count := h.Get(hdrCount)
	if count == "" {
		ev := daemon.BrokerEvent{Offset: offset, Epoch: epoch, Type: h.Get(hdrType)}
		if len(data) > 0 {
			ev.Payload = data
		}
		return append(dst, ev), nil
	}
	n, err := strconv.ParseUint(count, 10, 32)
	if err != nil || n == 0 {
		return dst, errBadChunk
	}
	for i := range n {
		t, rest, ok := field(data)
		if !ok {
			return dst, errBadChunk
		}
		p, rest, ok := field(rest)
		if !ok {
			return dst, errBadChunk
		}
		data = rest
		ev := daemon.BrokerEvent{Offset: offset + i, Epoch: epoch, Type: string(t)}
		if len(p) > 0 {
			ev.Payload = p
		}
		dst = append(dst, ev)
	}
	if len(data) != 0 {
		return dst, errBadChunk
	}
	return dst, nil
}

// field reads uvarint(len) then that many bytes.
func field(b []byte) (f, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
