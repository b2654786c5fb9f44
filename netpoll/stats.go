package netpoll

import "sync/atomic"

type counters struct {
	upgraded       atomic.Uint64
	rejected       atomic.Uint64 // handshakes answered with an HTTP error
	rejectedFull   atomic.Uint64 // connections refused at the connection limit
	handshakeTimed atomic.Uint64
	slowClosed     atomic.Uint64
	heartbeatTimed atomic.Uint64
	handedOff      atomic.Uint64
	bytesOut       atomic.Uint64
	writes         atomic.Uint64 // writev calls that wrote something
	dropped        atomic.Uint64 // event frames dropped for room (PolicyDropOldest, PolicyLatest)
	conflated      atomic.Uint64 // event frames replaced by a newer one of their key (PolicyLatest)
}

// Stats is a snapshot of the transport's counters.
type Stats struct {
	Conns            int    `json:"conns"`
	Upgraded         uint64 `json:"upgraded"`
	Rejected         uint64 `json:"rejected"`
	RejectedFull     uint64 `json:"rejected_full"`
	HandshakeTimeout uint64 `json:"handshake_timeout"`
	SlowConsumer     uint64 `json:"slow_consumer_closed"`
	HeartbeatTimeout uint64 `json:"heartbeat_timeout"`
	HandedOff        uint64 `json:"handed_off"`
	BytesOut         uint64 `json:"bytes_out"`
	Writes           uint64 `json:"writes"`
	DroppedFrames    uint64 `json:"dropped_frames"`
	ConflatedFrames  uint64 `json:"conflated_frames"`
}

// Stats returns the transport's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Conns:            s.Conns(),
		Upgraded:         s.stats.upgraded.Load(),
		Rejected:         s.stats.rejected.Load(),
		RejectedFull:     s.stats.rejectedFull.Load(),
		HandshakeTimeout: s.stats.handshakeTimed.Load(),
		SlowConsumer:     s.stats.slowClosed.Load(),
		HeartbeatTimeout: s.stats.heartbeatTimed.Load(),
		HandedOff:        s.stats.handedOff.Load(),
		BytesOut:         s.stats.bytesOut.Load(),
		Writes:           s.stats.writes.Load(),
		DroppedFrames:    s.stats.dropped.Load(),
		ConflatedFrames:  s.stats.conflated.Load(),
	}
}
