package daemon

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fanoutd/fanoutd/internal/jsonscan"
)

// Every connection sends at least one command (its subscribe), so the
// command is decoded by hand: encoding/json's reflection cost ~8
// allocations and a visible share of a new connection's CPU. json.Valid
// (a scanner, no reflection) checks the bytes first, so the scanner below
// and internal/jsonscan may assume well-formed JSON. The result is encoding/json's exactly: a
// message with a name that encoding/json would match only case-insensitively
// or through escapes ("Action", "\u0061ction") is handed to encoding/json.

// commandFields are the names decodeFast knows; any other spelling of them
// sends the message to encoding/json.
var commandFields = [...]string{"action", "channel", "projectId", "id", "token", "since"}

// decodeFast fills c from p, valid JSON; ok false means p must go to
// encoding/json (an unusual spelling), err a value of the wrong type.
func (c *command) decodeFast(p []byte) (ok bool, err bool) {
	i := jsonscan.SkipSpace(p, 0)
	if p[i] == 'n' {
		return true, false // null: no fields
	}
	if p[i] != '{' {
		return true, true
	}
	for i = jsonscan.SkipSpace(p, i+1); p[i] != '}'; {
		kEnd := jsonscan.StringEnd(p, i)
		key := p[i+1 : kEnd-1]
		i = jsonscan.SkipSpace(p, jsonscan.SkipSpace(p, kEnd)+1) // past the colon
		vEnd := jsonscan.ValueEnd(p, i)
		v := p[i:vEnd]
		var bad bool
		switch string(key) {
		case "action":
			if a := knownAction(v); a != "" {
				c.Action = a
			} else {
				bad = setString(&c.Action, v)
			}
		case "channel":
			bad = setString(&c.Channel, v)
		case "projectId":
			bad = setString(&c.ProjectID, v)
		case "token":
			bad = setString(&c.Token, v)
		case "id":
			c.ID = v // not copied: see decodeCommand
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
		i = jsonscan.SkipSpace(p, vEnd)
		if p[i] == ',' {
			i = jsonscan.SkipSpace(p, i+1)
		}
	}
	return true, false
}

// knownAction returns the action the JSON string v names, when it is one
// of the protocol's written without escapes, as a constant: the action is
// only compared, and a copy of it cost an allocation per command.
func knownAction(v []byte) string {
	switch string(v) {
	case `"subscribe"`:
		return "subscribe"
	case `"unsubscribe"`:
		return "unsubscribe"
	case `"ping"`:
		return "ping"
	case `"refresh"`:
		return "refresh"
	}
	return ""
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
	for i := jsonscan.SkipSpace(v, 1); v[i] != '}'; {
		kEnd := jsonscan.StringEnd(v, i)
		key := v[i+1 : kEnd-1]
		i = jsonscan.SkipSpace(v, jsonscan.SkipSpace(v, kEnd)+1)
		vEnd := jsonscan.ValueEnd(v, i)
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
		i = jsonscan.SkipSpace(v, vEnd)
		if v[i] == ',' {
			i = jsonscan.SkipSpace(v, i+1)
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
		*dst = jsonscan.Unquote(v)
		return false
	}
	return true
}
