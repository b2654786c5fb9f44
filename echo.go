package fanoutd

import (
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
)

// echoSession serves the conformance echo route (conformance.echo_path):
// every complete data message goes back with its own opcode. Everything
// else a conformance suite checks (framing, fragmentation, UTF-8, pings,
// close codes, size limits, heartbeats) is the transport's, the same code
// that serves the real route; only the session differs. It never touches
// the core: echo connections subscribe to nothing and count in the
// transport's stats only.
//
// On a connection that negotiated permessage-deflate, every answer goes
// compressed (whatever its size, unlike events): the route exists to
// exercise the transport, and a conformance client then checks the
// compressed path in both directions.
type echoSession struct {
	c *netpoll.Conn
	z *netpoll.Compressor // nil: answers go uncompressed
}

var _ netpoll.Session = echoSession{}

// Message copies the payload into a new frame: it is only valid during the
// call, and the frame may wait in the write queue.
func (s echoSession) Message(binary bool, payload []byte) {
	f := netpoll.TextFrame(payload)
	if binary {
		f = netpoll.BinaryFrame(payload)
	}
	if s.z != nil && len(payload) > 0 {
		if z, err := s.z.Frame(f); err == nil {
			f = z
		}
	}
	s.c.Send(f)
}

func (echoSession) Closed(int) {}

// acceptEcho opens an echo session: no token, no Origin check and no
// subprotocol needed, but the daemon-wide upgrade rate and the per-address
// cap still apply, so the route costs no more than the real one.
func (u *upgrader) acceptEcho(c *netpoll.Conn, r *netpoll.Request) (netpoll.Session, error) {
	ls := u.limits.settings()
	if !ls.allowUpgrade() {
		return nil, u.refuse(reasonRate, errUpgradeRate())
	}
	addr := clientAddr(r.RemoteAddr)
	if !u.limits.acquireIP(ls, addr) {
		return nil, u.refuse(reasonPerIP, errTooManyFromAddr())
	}
	if ce := u.log.Check(zap.DebugLevel, "conformance echo connection"); ce != nil {
		ce.Write(zap.Stringer("remote", c.RemoteAddr()))
	}
	var sess netpoll.Session = echoSession{c: c}
	if c.Deflate() {
		sess = echoSession{c: c, z: u.compressor}
	}
	if !ls.tracking() {
		return sess, nil
	}
	return &limitedSession{Session: sess, limits: u.limits, ls: ls, addr: addr}, nil
}
