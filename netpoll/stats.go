package netpoll

import "sync/atomic"

// countedCloseCodes are the close codes counted one by one; any other
// counts under 0. Each is one the transport or its session sends.
var countedCloseCodes = [...]int{CloseNormal, CloseGoingAway, CloseProtocolError, CloseUnsupportedData,
	CloseInvalidPayload, ClosePolicyViolation, CloseTooBig, 1010, CloseInternalError, CloseServiceRestart,
	1013, 1014, CloseSlowConsumer, CloseHeartbeat, 4003, 4004, 4403}

// closeCounts counts the close frames queued, by code: the last slot is
// every other code.
type closeCounts [len(countedCloseCodes) + 1]atomic.Uint64

func (cc *closeCounts) add(code int) {
	for i, c := range countedCloseCodes {
		if c == code {
			cc[i].Add(1)
			return
		}
	}
	cc[len(countedCloseCodes)].Add(1)
}

// snapshot maps each code sent at least once to its count; other codes
// are under 0.
func (cc *closeCounts) snapshot() map[int]uint64 {
	m := map[int]uint64{}
	for i := range cc {
		if n := cc[i].Load(); n != 0 {
			code := 0
			if i < len(countedCloseCodes) {
				code = countedCloseCodes[i]
			}
			m[code] = n
		}
	}
	return m
}

type counters struct {
	upgraded       atomic.Uint64
	deflate        atomic.Uint64 // upgrades that negotiated permessage-deflate
	rejected       atomic.Uint64 // handshakes answered with an HTTP error
	rejectedFull   atomic.Uint64 // connections refused at the connection limit (or the HTTP share of it)
	rejectedPerIP  atomic.Uint64 // connections refused at the per-address limit
	handshakeTimed atomic.Uint64
	slowClosed     atomic.Uint64
	heartbeatTimed atomic.Uint64
	messageTimed   atomic.Uint64 // open connections closed for a message not completed in time
	handedOff      atomic.Uint64
	adopted        atomic.Uint64 // connections taken over from another process (Adopt)
	bytesOut       atomic.Uint64
	writes         atomic.Uint64 // writev calls that wrote something
	emptyReads     atomic.Uint64 // reads of an open connection that found nothing (EAGAIN); not exported, for tests
	dropped        atomic.Uint64 // event frames dropped for room (PolicyDropOldest, PolicyLatest)
	conflated      atomic.Uint64 // event frames replaced by a newer one of their key (PolicyLatest)
	headerTooLarge atomic.Uint64 // handshakes answered 431
	notFound       atomic.Uint64 // requests for other paths answered 404 (no HTTP hand-off)
	malformed      atomic.Uint64 // upgrades gobwas/ws refused: bad request line, version, key, …
	closes         closeCounts
}

// Stats is a snapshot of the transport's counters.
type Stats struct {
	Conns         int    `json:"conns"`
	HTTPConns     int    `json:"http_conns"` // handed to net/http and still open
	RejectedPerIP uint64 `json:"rejected_per_ip"`
	Upgraded      uint64 `json:"upgraded"`
	// DeflateUpgraded counts the upgrades that negotiated permessage-deflate.
	DeflateUpgraded  uint64 `json:"deflate_upgraded"`
	Rejected         uint64 `json:"rejected"`
	RejectedFull     uint64 `json:"rejected_full"`
	HandshakeTimeout uint64 `json:"handshake_timeout"`
	SlowConsumer     uint64 `json:"slow_consumer_closed"`
	HeartbeatTimeout uint64 `json:"heartbeat_timeout"`
	MessageTimedOut  uint64 `json:"message_timeout"`
	HandedOff        uint64 `json:"handed_off"`
	// Adopted counts the connections taken over from another process
	// (Adopt); they count in Conns like accepted ones.
	Adopted         uint64 `json:"adopted"`
	BytesOut        uint64 `json:"bytes_out"`
	Writes          uint64 `json:"writes"`
	DroppedFrames   uint64 `json:"dropped_frames"`
	ConflatedFrames uint64 `json:"conflated_frames"`
	// The handshakes the transport refused itself, by reason; the rest of
	// Rejected are the Handler's refusals.
	RejectedHeaderTooLarge uint64 `json:"rejected_header_too_large"`
	RejectedNotFound       uint64 `json:"rejected_not_found"`
	RejectedMalformed      uint64 `json:"rejected_malformed"`
}

// Stats returns the transport's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Conns:            s.Conns(),
		HTTPConns:        s.HTTPConns(),
		RejectedPerIP:    s.stats.rejectedPerIP.Load(),
		Upgraded:         s.stats.upgraded.Load(),
		DeflateUpgraded:  s.stats.deflate.Load(),
		Rejected:         s.stats.rejected.Load(),
		RejectedFull:     s.stats.rejectedFull.Load(),
		HandshakeTimeout: s.stats.handshakeTimed.Load(),
		SlowConsumer:     s.stats.slowClosed.Load(),
		HeartbeatTimeout: s.stats.heartbeatTimed.Load(),
		MessageTimedOut:  s.stats.messageTimed.Load(),
		HandedOff:        s.stats.handedOff.Load(),
		Adopted:          s.stats.adopted.Load(),
		BytesOut:         s.stats.bytesOut.Load(),
		Writes:           s.stats.writes.Load(),
		DroppedFrames:    s.stats.dropped.Load(),
		ConflatedFrames:  s.stats.conflated.Load(),

		RejectedHeaderTooLarge: s.stats.headerTooLarge.Load(),
		RejectedNotFound:       s.stats.notFound.Load(),
		RejectedMalformed:      s.stats.malformed.Load(),
	}
}

// CloseCodesSent counts the close frames sent, by code (0: any code not
// counted one by one). Apart from Stats, which allocates nothing: callers
// poll it.
func (s *Server) CloseCodesSent() map[int]uint64 { return s.stats.closes.snapshot() }
