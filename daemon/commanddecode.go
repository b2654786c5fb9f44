package daemon

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Every connection sends at least one command (its subscribe), so the
// command is decoded by hand: encoding/json's reflection cost ~8
// allocations and a visible share of a new connection's CPU. json.Valid
// (a scanner, no reflection) checks the bytes first, so the scanner below
// may assume well-formed JSON. The result is encoding/json's exactly: a
// message with a name that encoding/json would match only case-insensitively
// or through escapes ("Action", "\u0061ction") is handed to encoding/json.

// commandFields are the names decodeFast knows; any other spelling of them
// sends the message to encoding/json.
var commandFields = [...]string{"action", "channel", "projectId", "id", "token", "since"}

// decodeFast fills c from p, valid JSON; ok false means p must go to
// encoding/json (an unusual spelling), err a value of the wrong type.
func (c *command) decodeFast(p []byte) (ok bool, err bool) {
	i := skipSpace(p, 0)
	if p[i] == 'n' {
		return true, false // null: no fields
	}
	if p[i] != '{' {
		return true, true
	}
	for i = skipSpace(p, i+1); p[i] != '}'; {
		kEnd := stringEnd(p, i)
		key := p[i+1 : kEnd-1]
		i = skipSpace(p, skipSpace(p, kEnd)+1) // past the colon
		vEnd := valueEnd(p, i)
		v := p[i:vEnd]
		var bad bool
		switch string(key) {
		case "action":
			bad = setString(&c.Action, v)
		case "channel":
			bad = setString(&c.Channel, v)
		case "projectId":
			bad = setString(&c.ProjectID, v)
		case "token":
			bad = setString(&c.Token, v)
		case "id":
			c.ID = append(json.RawMessage(nil), v...)
		case "since":
			var odd bool
			if odd, bad = c.setSince(v); odd {
				return false, false
			}
		default:
			if unusualName(key) {
				return false, false
			}
		}
		if bad {
			return true, true
		}
		i = skipSpace(p, vEnd)
		if p[i] == ',' {
			i = skipSpace(p, i+1)
		}
	}
	return true, false
}

// unusualName reports whether encoding/json might take key for one of the
// command's fields: escaped, or equal to one but for case.
func unusualName(key []byte) bool {
	for _, ch := range key {
		if ch == '\\' || ch >= utf8.RuneSelf {
			return true // escapes, and the Unicode case folds (ſ, K) encoding/json knows
		}
	}
	for _, f := range commandFields {
		if strings.EqualFold(string(key), f) {
			return true
		}
	}
	return false
}

// setSince decodes "since" as encoding/json decodes into *position: null
// clears it, an object fills it (into the same position when the name is
// repeated), anything else is an error.
// odd means a name only encoding/json would match (see unusualName).
func (c *command) setSince(v []byte) (odd, bad bool) {
	switch v[0] {
	case 'n':
		c.Since = nil
		return false, false
	case '{':
	default:
		return false, true
	}
	if c.Since == nil {
		c.Since = new(position)
	}
	for i := skipSpace(v, 1); v[i] != '}'; {
		kEnd := stringEnd(v, i)
		key := v[i+1 : kEnd-1]
		i = skipSpace(v, skipSpace(v, kEnd)+1)
		vEnd := valueEnd(v, i)
		f := v[i:vEnd]
		switch string(key) {
		case "offset":
			if f[0] != 'n' {
				n, err := strconv.ParseUint(string(f), 10, 64)
				if err != nil {
					return false, true
				}
				c.Since.Offset = n
			}
		case "epoch":
			if setString(&c.Since.Epoch, f) {
				return false, true
			}
		default:
			if unusualName(key) || strings.EqualFold(string(key), "offset") || strings.EqualFold(string(key), "epoch") {
				return true, false
			}
		}
		i = skipSpace(v, vEnd)
		if v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return false, false
}

// setString stores a JSON string; null leaves dst alone; bad reports any
// other type.
func setString(dst *string, v []byte) (bad bool) {
	switch v[0] {
	case 'n':
		return false
	case '"':
		*dst = unquote(v)
		return false
	}
	return true
}

// unquote decodes the JSON string literal q: a plain copy when it holds no
// escape and is valid UTF-8, encoding/json otherwise.
func unquote(q []byte) string {
	inner := q[1 : len(q)-1]
	plain := utf8.Valid(inner)
	for _, ch := range inner {
		if ch == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(q, &s) // valid JSON: cannot fail
	return s
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value starting at i.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
