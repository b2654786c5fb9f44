package fanoutd

import (
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
	"github.com/fanoutd/fanoutd/sse"
)

// The SSE route admits its streams with the upgrader's checks: one place
// for the checks, their refusal counters and the per-user and per-address
// limits, which a user's WebSockets and streams share.
var _ sse.Admitter = (*upgrader)(nil)

// AdmitStream implements sse.Admitter with admit; release gives back the
// address and user slots the stream holds.
func (u *upgrader) AdmitStream(r *netpoll.Request) (daemon.Identity, func(), error) {
	id, addr, ls, err := u.admit(r)
	if err != nil {
		return id, nil, err
	}
	return id, func() { u.limits.release(ls, addr, id.Subject) }, nil
}

// CrossOrigin implements sse.Admitter with the Origin allowlist in force.
func (u *upgrader) CrossOrigin(origin string) (listed, open bool) {
	p := u.cur.Load().origins
	return p.listed(origin), p.empty()
}
