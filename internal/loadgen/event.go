package loadgen

import (
	"bytes"
	"strconv"
)

// The bench event payload is {"ts":<unix ns at publish>,"seq":<n>,"pad":"x…"}.
// The daemon forwards payloads byte for byte inside
// {"type":…,"channel":…,"payload":…}, so the keys below occur exactly once
// in an event frame and nowhere in control messages.
const (
	keyTS  = `"ts":`
	keySeq = `"seq":`
)

// eventType is the type of every bench event.
const eventType = "bench"

// eventOverhead bounds the bytes an event adds around its payload in a
// publish request (`{"channel":"bench:NNNNNN","type":"bench","payload":},`).
const eventOverhead = 64

// parseEvent finds ts and seq in an event frame with two bytes.Index calls
// and no JSON decoding: the receive path runs for every delivery.
func parseEvent(msg []byte) (ts, seq int64, ok bool) {
	ts, ok = intAfter(msg, keyTS)
	if !ok {
		return 0, 0, false
	}
	if seq, ok = intAfter(msg, keySeq); !ok {
		return 0, 0, false
	}
	return ts, seq, true
}

// intAfter parses the non-negative decimal integer right after key. The
// conversion of the constant key does not allocate: it does not escape.
func intAfter(msg []byte, key string) (int64, bool) {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return 0, false
	}
	var v int64
	digits := 0
	for _, c := range msg[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
		digits++
	}
	return v, digits > 0 && digits <= 19
}

// appendEvent appends one publish-API event for seq on channel, with a
// payload of exactly size bytes when size allows (MinPayload always does).
func appendEvent(b []byte, channel int, ts, seq int64, size int) []byte {
	b = append(b, `{"channel":"`+ChannelPrefix...)
	b = strconv.AppendInt(b, int64(channel), 10)
	b = append(b, `","type":"`+eventType+`","payload":`...)
	return append(appendPayload(b, ts, seq, size), '}')
}

// appendPayload appends {"ts":ts,"seq":seq,"pad":"xx…"} padded to size.
func appendPayload(b []byte, ts, seq int64, size int) []byte {
	start := len(b)
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"pad":"`...)
	pad := size - (len(b) - start) - len(`"}`)
	for range max(pad, 0) {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// hasType reports whether a control message has the given "type".
func hasType(msg []byte, typ string) bool {
	return bytes.Contains(msg, []byte(`"type":"`+typ+`"`))
}
