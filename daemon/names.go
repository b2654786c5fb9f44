package daemon

import "strings"

// nameChars marks the bytes allowed in channel names: ASCII letters, digits
// and _ - . : @ / = + , ~ ! $ |. Left out on purpose: '*' and '{' '}' (they
// mean something in permission patterns), quotes and backslash (names go
// into JSON unescaped), spaces, controls and non-ASCII.
var nameChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-.:@/=+,~!$|" {
		t[c] = true
	}
	return t
}()

// typeChars marks the bytes allowed in event types: letters, digits, _ - . :
var typeChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = nameChars[c]
	}
	for _, c := range "@/=+,~!$|" {
		t[c] = false
	}
	return t
}()

const maxTypeLength = 64

// reservedTypes are the server's control message types (and names held back
// for the protocol's growth): an event may not take them, or a client could
// not tell an event from a reply.
var reservedTypes = map[string]bool{
	"welcome": true, "subscribed": true, "unsubscribed": true, "pong": true,
	"error": true, "ping": true, "close": true, "expiring": true,
	"refreshed": true, "join": true, "leave": true, "missed": true,
	"reconnect": true, "recovered": true,
}

func validName(s string, maxLen int, chars *[256]bool) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !chars[s[i]] {
			return false
		}
	}
	return true
}

// projectPrefix is the channel family of the ADR-004 dashboard protocol:
// {"action":"subscribe","projectId":"abc"} means channel "project:abc", and
// events on it carry "projectId":"abc".
const projectPrefix = "project:"

// projectID returns the id of a "project:<id>" channel, or "".
func projectID(channel string) string {
	id, ok := strings.CutPrefix(channel, projectPrefix)
	if !ok {
		return ""
	}
	return id
}

// ReservedPrefix starts the names of the daemon's own channels (the
// status page's counters, the watchdog's probes). No publisher may publish
// to them (ErrReservedChannel), and only a pattern that names one exactly
// permits reading it: "*", "fanoutd.*" and public_channels never do.
const ReservedPrefix = "fanoutd."

// reserved reports whether channel is one of the daemon's own.
func reserved(channel string) bool { return strings.HasPrefix(channel, ReservedPrefix) }

// permits reports whether a token's channel patterns allow channel.
// Patterns: "*" (any), "prefix*" (any name starting with prefix), or an
// exact name; "{sub}" was replaced by the subject at connect time. A
// reserved channel is permitted by its exact name only.
func permits(patterns []string, channel string) bool {
	own := reserved(channel)
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if !own && strings.HasPrefix(channel, prefix) {
				return true
			}
		} else if p == channel {
			return true
		}
	}
	return false
}

// expandPatterns substitutes the subject for "{sub}". A subject that is not
// a valid name fragment expands to a pattern no valid channel matches.
func expandPatterns(patterns []string, sub string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if strings.Contains(p, "{sub}") {
			if !validName(sub, 1024, &nameChars) {
				continue
			}
			p = strings.ReplaceAll(p, "{sub}", sub)
		}
		out = append(out, p)
	}
	return out
}
