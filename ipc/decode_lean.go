package ipc

import "unicode/utf8"

// The lean decoder parses a body held whole in memory without reflection:
// encoding/json was ~16% of a single-event publish's CPU (issue 17), most of
// it reflect walking wireEvent and the scratch copies of the payload. It
// accepts only the plain spelling of an event (lower-case member names,
// strings without escapes, valid JSON) and gives up on anything else, in
// which case the caller decodes the same bytes with decodeBody: every error
// message, every case-insensitive member match and every escape stays
// encoding/json's, and the lean path never has to reproduce them.
// FuzzLeanMatchesDecodeBody holds the two to the same result.

// maxLeanDepth mirrors encoding/json's nesting limit; deeper payloads are
// left to it so its error is the one the client sees.
const maxLeanDepth = 10000

// leanParser walks buf; a method returning false means "not handled here".
type leanParser struct {
	buf []byte
	pos int
}

// decodeLean fills d.b from body without copying payloads: the batch's arena
// is body itself, so body must outlive the batch. ok is false when the body
// needs decodeBody (anything unusual, any error, no events).
func (d *decoder) decodeLean(body []byte, ndjson bool) bool {
	d.b.arena = body
	p := leanParser{buf: body}
	var ok bool
	if ndjson {
		ok = d.leanNDJSON(&p)
	} else {
		ok = d.leanJSON(&p)
	}
	return ok && d.n > 0
}

func (d *decoder) leanJSON(p *leanParser) bool {
	p.skipSpace()
	if p.pos < len(p.buf) && p.buf[p.pos] == '[' {
		p.pos++
		p.skipSpace()
		for {
			if !d.leanEvent(p) {
				return false
			}
			p.skipSpace()
			if p.pos >= len(p.buf) {
				return false
			}
			c := p.buf[p.pos]
			p.pos++
			if c == ']' {
				break
			}
			if c != ',' {
				return false
			}
			p.skipSpace()
		}
	} else if !d.leanEvent(p) {
		return false
	}
	p.skipSpace()
	return p.pos == len(p.buf)
}

func (d *decoder) leanNDJSON(p *leanParser) bool {
	body := p.buf
	for start := 0; start < len(body); {
		end := start
		for end < len(body) && body[end] != '\n' {
			end++
		}
		if end-start > d.maxLine {
			return false
		}
		line := leanParser{buf: body[:end], pos: start}
		line.skipSpace()
		if line.pos < end {
			if !d.leanEvent(&line) {
				return false
			}
			line.skipSpace()
			if line.pos != end {
				return false
			}
		}
		start = end + 1
	}
	return true
}

// leanEvent parses one event object at p and records it as decodeOne would.
func (d *decoder) leanEvent(p *leanParser) bool {
	var w wireEvent
	off, end := 0, 0
	if !p.eat('{') {
		return false
	}
	p.skipSpace()
	if p.eat('}') {
		return d.leanAccept(&w, off, end)
	}
	for {
		name, ok := p.plainString()
		if !ok {
			return false
		}
		p.skipSpace()
		if !p.eat(':') {
			return false
		}
		p.skipSpace()
		if string(name) == "payload" {
			off = p.pos
			if !p.skipValue(0) {
				return false
			}
			end = p.pos
		} else if field := w.field(name); field == nil {
			return false
		} else if v, ok := p.plainString(); !ok {
			return false
		} else {
			*field = string(v)
		}
		p.skipSpace()
		if p.eat('}') {
			return d.leanAccept(&w, off, end)
		}
		if !p.eat(',') {
			return false
		}
		p.skipSpace()
	}
}

// field returns the string member called exactly name, nil for others.
func (w *wireEvent) field(name []byte) *string {
	switch string(name) {
	case "channel":
		return &w.Channel
	case "type":
		return &w.Type
	case "projectId":
		return &w.ProjectID
	case "idempotency_key":
		return &w.IdempotencyKey
	}
	return nil
}

// leanAccept is decoder.accept with the payload left in place in the body.
func (d *decoder) leanAccept(w *wireEvent, off, end int) bool {
	index := d.n
	d.n++
	channel, reason := resolveChannel(w)
	if reason != "" {
		d.reject(index, reason)
		return true
	}
	d.b.events = append(d.b.events, event{
		channel: channel, typ: w.Type, key: w.IdempotencyKey, index: index, off: off, end: end,
	})
	return true
}

func (p *leanParser) skipSpace() {
	for p.pos < len(p.buf) && isJSONSpace(p.buf[p.pos]) {
		p.pos++
	}
}

func (p *leanParser) eat(c byte) bool {
	if p.pos < len(p.buf) && p.buf[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// plainString reads a string with no escapes and valid UTF-8: its bytes are
// then exactly what encoding/json would decode, so no unescaping is needed.
func (p *leanParser) plainString() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.pos
	ascii := true
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		switch {
		case c == '"':
			s := p.buf[start:p.pos]
			p.pos++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.pos++
	}
	return nil, false
}

// skipValue moves past one JSON value, checking its grammar; false on any
// error, which decodeBody will then describe.
func (p *leanParser) skipValue(depth int) bool {
	if p.pos >= len(p.buf) || depth > maxLeanDepth {
		return false
	}
	switch c := p.buf[p.pos]; {
	case c == '{':
		return p.skipObject(depth + 1)
	case c == '[':
		return p.skipArray(depth + 1)
	case c == '"':
		return p.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

func (p *leanParser) literal(s string) bool {
	if len(p.buf)-p.pos < len(s) || string(p.buf[p.pos:p.pos+len(s)]) != s {
		return false
	}
	p.pos += len(s)
	return true
}

func (p *leanParser) skipObject(depth int) bool {
	p.pos++ // '{'
	p.skipSpace()
	if p.eat('}') {
		return true
	}
	for {
		if p.pos >= len(p.buf) || p.buf[p.pos] != '"' || !p.skipString() {
			return false
		}
		p.skipSpace()
		if !p.eat(':') {
			return false
		}
		p.skipSpace()
		if !p.skipValue(depth) {
			return false
		}
		p.skipSpace()
		if p.eat('}') {
			return true
		}
		if !p.eat(',') {
			return false
		}
		p.skipSpace()
	}
}

func (p *leanParser) skipArray(depth int) bool {
	p.pos++ // '['
	p.skipSpace()
	if p.eat(']') {
		return true
	}
	for {
		if !p.skipValue(depth) {
			return false
		}
		p.skipSpace()
		if p.eat(']') {
			return true
		}
		if !p.eat(',') {
			return false
		}
		p.skipSpace()
	}
}

// skipString checks escapes but, like encoding/json's scanner, not UTF-8:
// a payload is kept as raw bytes either way.
func (p *leanParser) skipString() bool {
	p.pos++ // '"'
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		p.pos++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if !p.skipEscape() {
				return false
			}
		}
	}
	return false
}

func (p *leanParser) skipEscape() bool {
	if p.pos >= len(p.buf) {
		return false
	}
	c := p.buf[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	case 'u':
		for range 4 {
			if p.pos >= len(p.buf) || !isHex(p.buf[p.pos]) {
				return false
			}
			p.pos++
		}
		return true
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// skipNumber follows JSON's number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (p *leanParser) skipNumber() bool {
	p.eat('-')
	if p.eat('0') {
		// no further integer digits after a leading zero
	} else if !p.digits() {
		return false
	}
	if p.eat('.') && !p.digits() {
		return false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return false
		}
	}
	return true
}

func (p *leanParser) digits() bool {
	start := p.pos
	for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}
