package control

import "sync/atomic"

// counters are what the plane counts for metrics; written by the worker
// and the taps, read at scrape time.
type counters struct {
	actions    [len(opNames)]atomic.Uint64
	tapDropped atomic.Uint64
}

// opNames are the ops counted, in Stats order.
var opNames = [...]string{OpDisconnect, OpRevoke, OpUnrevoke, OpSubscribe, OpUnsubscribe, OpClearHistory, OpConnections}

func (c *counters) count(op string) {
	for i, name := range opNames {
		if name == op {
			c.actions[i].Add(1)
			return
		}
	}
}

// Stats is a snapshot of the plane's counters.
type Stats struct {
	// Actions are the actions applied on this node, by op, since start.
	Actions map[string]uint64
	// TapDropped counts tap lines dropped because a tap fell behind.
	TapDropped uint64
	// Revocations are the revocations in force; Nodes the nodes heard of,
	// this one included.
	Revocations, Nodes int
}

// Stats returns the plane's counters. Safe from any goroutine.
func (p *Plane) Stats() Stats {
	st := Stats{Actions: make(map[string]uint64, len(opNames)), TapDropped: p.stats.tapDropped.Load(),
		Revocations: len(p.revoked.list(p.o.Now())), Nodes: len(p.Peers())}
	for i, name := range opNames {
		st.Actions[name] = p.stats.actions[i].Load()
	}
	return st
}
