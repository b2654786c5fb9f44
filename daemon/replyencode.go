package daemon

import (
	"encoding/json"
	"strconv"
)

// The replies every connection gets (welcome, subscribed, pong, error,
// unsubscribed) are encoded by appending, without encoding/json's
// reflection: at thousands of new connections a second it was a visible
// share of the handshake. The bytes are exactly encoding/json's (the same
// field order, omitempty, and escaping); replyencode_test.go checks it.

// jsonAppender is a reply that encodes itself.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// sendReply frames r and sends it to s's client.
func sendReply[T jsonAppender](s *Session, r T) { s.t.Send(frameReply(s.node, r)) }

// frameReply returns r's frame (Options.Frame). r is encoded into one of
// the node's scratch buffers, which Frame copies from, so a reply costs one
// allocation, its frame: marshalReply's buffer (grown once more for a
// welcome) and r boxed into its interface were three more per connect.
// Generic, not an interface parameter, for that boxing's sake.
func frameReply[T jsonAppender](n *Node, r T) []byte {
	bp := n.encBufs.Get().(*[]byte)
	b := r.appendJSON((*bp)[:0])
	msg := n.opts.Frame(b)
	*bp = b
	n.encBufs.Put(bp)
	return msg
}

func (r reply) appendJSON(b []byte) []byte {
	b = appendField(b, `{"type":`, r.Type)
	if len(r.ID) > 0 {
		b = appendRaw(append(b, `,"id":`...), r.ID)
	}
	if r.Channel != "" {
		b = appendField(b, `,"channel":`, r.Channel)
	}
	if r.ProjectID != "" {
		b = appendField(b, `,"projectId":`, r.ProjectID)
	}
	if r.Code != "" {
		b = appendField(b, `,"code":`, r.Code)
	}
	if r.Message != "" {
		b = appendField(b, `,"message":`, r.Message)
	}
	if r.ExpiresAt != 0 {
		b = strconv.AppendInt(append(b, `,"expires_at":`...), r.ExpiresAt, 10)
	}
	return append(b, '}')
}

func (w welcome) appendJSON(b []byte) []byte {
	b = appendField(b, `{"type":`, w.Type)
	b = appendField(b, `,"connection_id":`, w.ConnectionID)
	b = appendField(b, `,"user":`, w.User)
	b = appendField(b, `,"protocol":`, w.Protocol)
	b = strconv.AppendInt(append(b, `,"ping_interval_ms":`...), w.PingIntervalMS, 10)
	b = strconv.AppendInt(append(b, `,"max_subscriptions":`...), int64(w.MaxSubscriptions), 10)
	if w.ExpiresAt != 0 {
		b = strconv.AppendInt(append(b, `,"expires_at":`...), w.ExpiresAt, 10)
	}
	if w.URLChannels != 0 {
		b = strconv.AppendInt(append(b, `,"url_channels":`...), int64(w.URLChannels), 10)
	}
	return append(b, '}')
}

func (r subscribedReply) appendJSON(b []byte) []byte {
	b = appendField(b, `{"type":`, r.Type)
	if len(r.ID) > 0 {
		b = appendRaw(append(b, `,"id":`...), r.ID)
	}
	b = appendField(b, `,"channel":`, r.Channel)
	if r.ProjectID != "" {
		b = appendField(b, `,"projectId":`, r.ProjectID)
	}
	b = strconv.AppendUint(append(b, `,"offset":`...), r.Offset, 10)
	b = appendField(b, `,"epoch":`, r.Epoch)
	if r.Recovered != nil {
		b = strconv.AppendBool(append(b, `,"recovered":`...), *r.Recovered)
	}
	return append(b, '}')
}

func appendField(b []byte, name, s string) []byte {
	return appendString(append(b, name...), s)
}

// appendString appends s as a JSON string: directly when it holds only
// printable ASCII that encoding/json leaves alone (names, ids, codes almost
// always do), through encoding/json otherwise, so that escapes, HTML-safe
// characters and invalid UTF-8 come out as they always have.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends an id already validated as a JSON string or number;
// encoding/json would compact it and escape HTML characters, which only
// matters when it holds one of them or a non-ASCII byte.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	for _, c := range raw {
		if c >= 0x80 || c == '<' || c == '>' || c == '&' || c <= ' ' {
			q, err := json.Marshal(raw)
			if err != nil {
				return append(b, "null"...)
			}
			return append(b, q...)
		}
	}
	return append(b, raw...)
}
