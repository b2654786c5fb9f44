package ipc

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The publish answer is written by hand: it is the only body on the hot
// path, its shape is fixed, and encoding/json's reflection cost as much as
// the rest of the response. TestAppendPublishedMatchesMarshal holds it to
// json.Marshal's bytes, escaping included.

// appendPublished appends {"published":n,"positions":[…]} for positions.
func appendPublished(dst []byte, n int, positions []Position) []byte {
	dst = append(dst, `{"published":`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	if len(positions) > 0 {
		dst = append(dst, `,"positions":[`...)
		for i := range positions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPosition(dst, &positions[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendPosition appends one Position object as encoding/json writes it.
func appendPosition(dst []byte, p *Position) []byte {
	dst = append(dst, '{')
	return append(appendPositionFields(dst, p), '}')
}

// appendPositionFields appends a Position's members, without braces: the
// publish answer's objects and the stream's acks both carry them.
func appendPositionFields(dst []byte, p *Position) []byte {
	dst = append(dst, `"channel":`...)
	dst = appendJSONString(dst, p.Channel)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, p.Offset, 10)
	dst = append(dst, `,"epoch":`...)
	dst = appendJSONString(dst, p.Epoch)
	if p.Duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	return dst
}

// appendJSONString quotes s. Strings that need no escaping (the common
// case: channel names and epochs) are copied; any other is left to
// encoding/json so its escaping (HTML characters, U+2028, invalid UTF-8)
// is reproduced exactly.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
