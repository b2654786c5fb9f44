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
func appendEvent(b []byte, channel int, ts, seq int64, size int, json bool) []byte {
	b = append(b, `{"channel":"`+ChannelPrefix...)
	b = strconv.AppendInt(b, int64(channel), 10)
	b = append(b, `","type":"`+eventType+`","payload":`...)
	if json {
		return append(appendJSONPayload(b, ts, seq, size), '}')
	}
	return append(appendPayload(b, ts, seq, size), '}')
}

// appendJSONPayload appends a dashboard-like payload of at most size bytes:
// {"ts":…,"seq":…,"storyId":"6-5","status":"in-progress"} (an ADR-004
// status change, about 80 bytes) and, while they fit, host records such as
// ,"h3":{"host":"web-3","cpu":41.3,"mem":1021,"status":"ok"}; the rest (less
// than one record) is spaces, which JSON allows. Deflate does on it what it
// does on a real dashboard's JSON, not what it does on a string of x.
func appendJSONPayload(b []byte, ts, seq int64, size int) []byte {
	start := len(b)
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	if size-(len(b)-start) > 48 {
		b = append(b, `,"storyId":"6-5","status":"in-progress"`...)
	}
	for i := int64(0); ; i++ {
		mark := len(b)
		b = append(b, `,"h`...)
		b = strconv.AppendInt(b, i, 10)
		b = append(b, `":{"host":"web-`...)
		b = strconv.AppendInt(b, i, 10)
		b = append(b, `","cpu":`...)
		b = strconv.AppendInt(b, (seq+i*7)%97, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, (seq+i)%10, 10)
		b = append(b, `,"mem":`...)
		b = strconv.AppendInt(b, 1000+(seq*3+i*13)%4000, 10)
		b = append(b, `,"status":"ok"}`...)
		if len(b)-start+1 > size {
			b = b[:mark]
			break
		}
	}
	for len(b)-start+1 < size {
		b = append(b, ' ')
	}
	return append(b, '}')
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
