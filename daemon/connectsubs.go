package daemon

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ConnectSubscriptions are the channels a client names in the URL it
// connects with, and the positions to resume them from: the SSE route's
// only way to subscribe, and on the WebSocket route a round trip saved
// (the welcome and every subscribed reply leave in the 101's write).
type ConnectSubscriptions struct {
	// Channels in the order named, duplicates dropped.
	Channels []string
	// Since holds the positions to resume from, by channel.
	Since map[string]Position
}

// Query parameters of a connect URL (PROTOCOL.md §1 and §7):
//   - channels: a comma-separated list; it may repeat;
//   - channel: one channel, taken whole (a name may contain a comma); it
//     may repeat;
//   - last_event_id: positions as "channel offset epoch" triples separated
//     by spaces, the SSE route's event id.
const (
	paramChannels    = "channels"
	paramChannel     = "channel"
	paramLastEventID = "last_event_id"
)

// ConnectSubscriptions reads a connect URL's raw query. lastEventID, when
// not empty, is the Last-Event-ID header, which wins over the
// last_event_id parameter. More channels than a session may hold is
// ErrTooManyChannels, unreadable positions ErrBadPositions, and a
// parameter that does not unescape ErrInvalidChannel or ErrBadPositions,
// each wrapped in an *InputError: the request is refused (400) before anything
// is subscribed. A channel name is checked when it is subscribed, as a
// subscribe command's is.
func (n *Node) ConnectSubscriptions(rawQuery, lastEventID string) (ConnectSubscriptions, error) {
	var cs ConnectSubscriptions
	limit := n.set().MaxSubscriptions
	over := false
	add := func(ch string) {
		// A linear scan, no map to allocate on every connect: the list
		// stops at one past the limit, so a request head full of names
		// costs at most that many comparisons per name.
		if ch == "" || over || slices.Contains(cs.Channels, ch) {
			return
		}
		cs.Channels = append(cs.Channels, ch)
		over = len(cs.Channels) > limit
	}
	for raw := rawQuery; raw != ""; {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		if name != paramChannels && name != paramChannel && name != paramLastEventID {
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			bad := ErrInvalidChannel
			if name == paramLastEventID {
				bad = ErrBadPositions
			}
			return ConnectSubscriptions{}, &InputError{fmt.Errorf("%w: %s does not unescape", bad, name)}
		}
		switch name {
		case paramChannels:
			for ch := range strings.SplitSeq(v, ",") {
				add(ch)
			}
		case paramChannel:
			add(v)
		case paramLastEventID:
			if lastEventID == "" {
				lastEventID = v
			}
		}
	}
	if over {
		return ConnectSubscriptions{}, &InputError{fmt.Errorf("%w: at most %d", ErrTooManyChannels, limit)}
	}
	since, err := ParsePositions(lastEventID)
	if err != nil {
		return ConnectSubscriptions{}, &InputError{err}
	}
	cs.Since = since
	return cs, nil
}

// noEpoch stands for the empty epoch in a written position: a channel a
// broker has numbered nothing in yet has none, and "p 0 " would not split
// into three fields. No epoch is ever "-" (they are a node prefix or a
// broker's random id).
const noEpoch = "-"

// ParsePositions reads "channel offset epoch" triples separated by spaces
// (AppendPosition writes one; an epoch "-" is the empty one); "" is no
// position (a nil map).
func ParsePositions(s string) (map[string]Position, error) {
	if s == "" {
		return nil, nil
	}
	f := strings.Fields(s)
	if len(f)%3 != 0 {
		return nil, ErrBadPositions
	}
	out := make(map[string]Position, len(f)/3)
	for i := 0; i < len(f); i += 3 {
		off, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return nil, ErrBadPositions
		}
		epoch := f[i+2]
		if epoch == noEpoch {
			epoch = ""
		}
		out[f[i]] = Position{Offset: off, Epoch: epoch}
	}
	return out, nil
}

// AppendPosition appends one "channel offset epoch" triple to dst, the
// empty epoch as "-"; the caller separates triples with a space.
func AppendPosition(dst []byte, channel string, p Position) []byte {
	dst = append(dst, channel...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, p.Offset, 10)
	dst = append(dst, ' ')
	if p.Epoch == "" {
		return append(dst, noEpoch...)
	}
	return append(dst, p.Epoch...)
}

// SubscribeAll subscribes the session to every channel of cs, in order, as
// Subscribe does: a refused channel reaches the client as an
// "unsubscribed" frame and the others carry on. Once the broker is found
// unavailable, the channels left are refused with that error without
// asking it again: the transport calls this during the WebSocket
// handshake, which one broker timeout (Options.BrokerTimeout) must not
// outlast per channel. Called by the transport once the session is open,
// before any client message.
func (s *Session) SubscribeAll(cs ConnectSubscriptions) {
	var down error
	for _, ch := range cs.Channels {
		if down != nil {
			s.ctl.Lock()
			s.refused(ch, down)
			s.ctl.Unlock()
			continue
		}
		var since *Position
		if p, ok := cs.Since[ch]; ok {
			since = &p
		}
		if err := s.Subscribe(ch, since); errors.Is(err, ErrUnavailable) {
			down = err
		}
	}
}
