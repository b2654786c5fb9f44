package netpoll

import "unicode/utf8"

// utf8Check validates a text message as its bytes arrive, fragment by
// fragment or read by read, so that invalid UTF-8 fails the connection
// (1007) at once instead of when the message completes (Autobahn's
// "strict" 6.4.x). A code point split across pieces is carried in three
// bytes of state; every prefix that some continuation could make valid is
// accepted, and nothing else (RFC 3629's table: no overlongs, no
// surrogates, nothing past U+10FFFF).
type utf8Check struct {
	need   byte // continuation bytes still expected
	lo, hi byte // the range of the next continuation byte
}

func (u *utf8Check) reset() { *u = utf8Check{} }

// complete reports that the bytes fed so far end on a code point boundary.
func (u *utf8Check) complete() bool { return u.need == 0 }

// feed checks the next piece. Bulk runs go through utf8.Valid (ASCII
// eight bytes at a time); only a code point cut at either end of the piece
// is stepped through byte by byte.
func (u *utf8Check) feed(p []byte) bool {
	for u.need > 0 && len(p) > 0 {
		if !u.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	cut := lastRuneStart(p)
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if !u.step(b) {
			return false
		}
	}
	return true
}

// lastRuneStart is where the last, possibly incomplete, multi-byte
// sequence of p begins, or len(p) when p ends in ASCII or in bytes no lead
// byte could explain (then utf8.Valid refuses them).
func lastRuneStart(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		switch b := p[i]; {
		case b < utf8.RuneSelf:
			return len(p)
		case b >= 0xc0:
			return i
		}
	}
	return len(p)
}

// step takes one byte of a sequence.
func (u *utf8Check) step(b byte) bool {
	if u.need > 0 {
		if b < u.lo || b > u.hi {
			return false
		}
		u.need, u.lo, u.hi = u.need-1, 0x80, 0xbf
		return true
	}
	switch {
	case b < utf8.RuneSelf:
	case b >= 0xc2 && b <= 0xdf:
		*u = utf8Check{1, 0x80, 0xbf}
	case b == 0xe0:
		*u = utf8Check{2, 0xa0, 0xbf}
	case b == 0xed:
		*u = utf8Check{2, 0x80, 0x9f}
	case b >= 0xe1 && b <= 0xef:
		*u = utf8Check{2, 0x80, 0xbf}
	case b == 0xf0:
		*u = utf8Check{3, 0x90, 0xbf}
	case b >= 0xf1 && b <= 0xf3:
		*u = utf8Check{3, 0x80, 0xbf}
	case b == 0xf4:
		*u = utf8Check{3, 0x80, 0x8f}
	default:
		return false
	}
	return true
}
