package redisbroker

import (
	"strconv"
	"strings"

	"github.com/fanoutd/fanoutd/daemon"
)

// A pub/sub message carries the events one script call published to one
// channel (publishScript), in one of two forms:
//
//	one event:  offset "\n" epoch "\n" type "\n" payload
//	several:    "*" epoch "\n" then, per event, offset "\n" type "\n" len "\n" payload
//
// where len is the payload's length in bytes: a payload may hold any byte.
// A type and an epoch never hold a newline. A node of an older version
// reads a message of several events as malformed and skips it; it sees
// the gap at the next message and reads the events from the stream.

// parseMessage calls each with the events of message s, in order, and
// reports whether all of s was well formed. Events before a malformed part
// are still handed over.
func parseMessage(s string, each func(daemon.BrokerEvent)) bool {
	if !strings.HasPrefix(s, "*") {
		off, rest, ok := cutUint(s)
		epoch, rest, ok2 := strings.Cut(rest, "\n")
		typ, payload, ok3 := strings.Cut(rest, "\n")
		if !ok || !ok2 || !ok3 {
			return false
		}
		each(newEvent(off, epoch, typ, payload))
		return true
	}
	epoch, rest, ok := strings.Cut(s[1:], "\n")
	if !ok || rest == "" {
		return false
	}
	for rest != "" {
		off, r, ok := cutUint(rest)
		typ, r, ok2 := strings.Cut(r, "\n")
		n, r, ok3 := cutUint(r)
		if !ok || !ok2 || !ok3 || n > uint64(len(r)) {
			return false
		}
		each(newEvent(off, epoch, typ, r[:n]))
		rest = r[n:]
	}
	return true
}

// cutUint reads a decimal number ended by "\n" at the start of s.
func cutUint(s string) (uint64, string, bool) {
	num, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, rest, err == nil
}

func newEvent(offset uint64, epoch, typ, payload string) daemon.BrokerEvent {
	ev := daemon.BrokerEvent{Offset: offset, Epoch: epoch, Type: typ}
	if payload != "" {
		ev.Payload = []byte(payload)
	}
	return ev
}
