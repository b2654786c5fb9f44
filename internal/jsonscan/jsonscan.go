// Package jsonscan holds the few scanning steps shared by the hand-written
// decoders on hot paths (a client's commands in daemon, a token's claims in
// daemon/jwtauth). Every function assumes its input is well-formed JSON,
// already checked by json.Valid or json.Unmarshal: they find boundaries,
// they do not validate. They are written by hand because encoding/json's
// reflection costs allocations on every handshake and command.
package jsonscan

import (
	"encoding/json"
	"unicode/utf8"
)

// Unquote decodes the JSON string literal q: a plain copy when it holds no
// escape and is valid UTF-8 (the common case), encoding/json otherwise.
func Unquote(q []byte) string {
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

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// StringEnd returns the index just past the string literal starting at i.
func StringEnd(b []byte, i int) int {
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

// ValueEnd returns the index just past the JSON value starting at i.
func ValueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return StringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = StringEnd(b, i) - 1
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
