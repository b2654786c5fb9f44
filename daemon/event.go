package daemon

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// checkEvent validates an event the way Publish will; own allows the
// reserved channels (the daemon's own publishes).
func (n *Node) checkEvent(channel, eventType string, payload []byte, own bool) error {
	switch {
	case !validName(channel, n.set().MaxChannelLength, &nameChars):
		return &InputError{fmt.Errorf("%w: must be 1-%d bytes of [A-Za-z0-9_-.:@/=+,~!$|]",
			ErrInvalidChannel, n.set().MaxChannelLength)}
	case !own && reserved(channel):
		return &InputError{fmt.Errorf("%q: %w", channel, ErrReservedChannel)}
	case !validName(eventType, maxTypeLength, &typeChars):
		return &InputError{fmt.Errorf("%w: must be 1-%d bytes of [A-Za-z0-9_-.:]", ErrInvalidType, maxTypeLength)}
	case reservedTypes[eventType]:
		return &InputError{fmt.Errorf("%w: %q is a control message type", ErrReservedType, eventType)}
	case len(payload) > n.set().MaxPayloadBytes:
		return &InputError{fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidPayload, len(payload), n.set().MaxPayloadBytes)}
	case len(payload) > 0 && !json.Valid(payload):
		return &InputError{fmt.Errorf("%w: not a JSON value", ErrInvalidPayload)}
	case !utf8.Valid(payload):
		// json.Valid passes any byte inside a string, but the event goes out
		// in a text frame, and one that is not UTF-8 fails every subscriber.
		return &InputError{fmt.Errorf("%w: not UTF-8", ErrInvalidPayload)}
	}
	return nil
}

// encodeEvent builds the event's wire message once for all subscribers:
//
//	{"type":"…","channel":"…"[,"projectId":"…"],"offset":N,"epoch":"…"[,"payload":…]}
//
// Channel, type and epoch were validated or built to need no JSON
// escaping; the payload is valid JSON.
func (n *Node) encodeEvent(channel, eventType string, payload []byte, offset uint64, epoch string) []byte {
	bp := n.encBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"type":"`...)
	b = append(b, eventType...)
	b = append(b, `","channel":"`...)
	b = append(b, channel...)
	b = append(b, '"')
	if id := projectID(channel); id != "" {
		b = append(b, `,"projectId":"`...)
		b = append(b, id...)
		b = append(b, '"')
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, offset, 10)
	b = append(b, `,"epoch":"`...)
	b = append(b, epoch...)
	b = append(b, '"')
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	b = append(b, '}')
	msg := n.opts.Frame(b)
	*bp = b
	n.encBufs.Put(bp)
	return msg
}
