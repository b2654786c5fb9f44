package fanoutd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanoutd/fanoutd/control"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// TakeOver is a hand-off this Server is taking over (Server.TakeOver): the
// state is restored, the connections wait for Adopt.
type TakeOver struct {
	s     *Server
	meta  imageMeta
	conns []connImage
	files map[string]int // the received descriptors, by socket key
	ph    phases
}

// TakeOver reads a hand-off's image and restores what it carries into this
// Server, which must be new (New returned it, Run has not started): each
// channel's epoch, offset and history, the idempotency window, the
// connection-event stream's position, the revocations. The connections
// are served once Adopt is called: for an upgrade, after the old process
// committed. inOrder says that b.Files come in the image's order (an
// upgrade's socket pair keeps it): each is then checked with one
// getpeername; otherwise (the service manager's store does not keep it)
// each is named by SocketKey and matched. An image this binary cannot
// read is an error wrapping handoff.ErrVersion (or saying what is wrong),
// and nothing is changed: the descriptors are still the caller's, to give
// back (closing them) or to close as a drain would (DrainFiles). On
// success they are the TakeOver's: Adopt serves them, Release gives back
// those it has not served; drop b.Image then (a few hundred bytes a
// connection), for Adopt to give that memory back.
func (s *Server) TakeOver(b handoff.Bundle, inOrder bool) (*TakeOver, error) {
	var (
		meta  imageMeta
		conns []connImage
		node  daemon.NodeState
		revs  []control.Revocation
	)
	ph := phases{now: s.now, at: s.now()}
	sections := map[string]any{sectionMeta: &meta, sectionNode: &node, sectionRevoked: &revs}
	var parts [transportParts][]connImage
	for i := range parts {
		sections[transportPart(i)] = &parts[i]
	}
	if err := handoff.Decode(b.Image, sections); err != nil {
		return nil, fmt.Errorf("read the hand-off image: %w", err)
	}
	for _, p := range parts {
		conns = append(conns, p...)
	}
	ph.mark("image_decoded")
	if err := s.node.ImportState(node); err != nil {
		return nil, fmt.Errorf("restore the channels: %w", err)
	}
	s.ctl.Restore(revs)
	ph.mark("state_restored")
	// From here the descriptors are the TakeOver's (Adopt, Release).
	t := &TakeOver{s: s, meta: meta, conns: conns, files: make(map[string]int, len(b.Files))}
	if !inOrder || !t.matchInOrder(b) {
		t.matchByKey(b)
	}
	ph.mark("sockets_named")
	t.ph = ph
	return t, nil
}

// matchInOrder pairs b.Files with the image's connections by position,
// checking each peer address (one system call); false, having kept
// nothing, at the first that does not match.
func (t *TakeOver) matchInOrder(b handoff.Bundle) bool {
	if len(b.Files) != len(t.conns) {
		return false
	}
	for i, fd := range b.Files {
		sa, err := unix.Getpeername(fd)
		if err != nil || b.Name(i) != handoff.ConnName || !samePeer(sa, t.conns[i].Transport.Remote) {
			clear(t.files)
			return false
		}
		t.files[t.conns[i].Key] = fd
	}
	return true
}

// matchByKey names every descriptor (SocketKey) for Adopt to find; those
// that are not connections, or whose peer left, are closed.
func (t *TakeOver) matchByKey(b handoff.Bundle) {
	for i, fd := range b.Files {
		key, err := handoff.SocketKey(fd)
		if err != nil || b.Name(i) != handoff.ConnName {
			_ = unix.Close(fd)
			continue
		}
		t.files[key] = fd
	}
}

// samePeer reports whether sa is the address ap, IPv4-mapped or not.
func samePeer(sa unix.Sockaddr, ap netip.AddrPort) bool {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == int(ap.Port()) && netip.AddrFrom4(a.Addr) == ap.Addr().Unmap()
	case *unix.SockaddrInet6:
		return a.Port == int(ap.Port()) && netip.AddrFrom16(a.Addr).Unmap() == ap.Addr().Unmap()
	}
	return false
}

// Connections is how many connections the image carries.
func (t *TakeOver) Connections() int { return len(t.conns) }

// From is the version and process that made the image.
func (t *TakeOver) From() (version string, pid int) { return t.meta.Version, t.meta.PID }

// Adopt serves every connection of the image whose descriptor arrived:
// each continues where the old process left it, without a byte of its
// own on the wire. A connection the transport cannot take is closed; the
// count of those served is returned.
func (t *TakeOver) Adopt() int {
	s := t.s
	t.ph.at = s.now() // the wait for the commit is not the take-over's
	// Each connection is independent (its own session, descriptor and
	// registration): adopt them on every core, in contiguous parts.
	var n atomic.Int64
	var wg sync.WaitGroup
	parts := max(1, min(runtime.GOMAXPROCS(0), len(t.conns)/1024))
	for p := range parts {
		lo, hi := p*len(t.conns)/parts, (p+1)*len(t.conns)/parts
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				if t.adopt(&t.conns[i]) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range t.conns {
		delete(t.files, t.conns[i].Key)
	}
	t.Release() // descriptors the image did not name
	t.ph.mark("adopted")
	t.conns = nil
	// The image and its decoding are garbage now, a few hundred bytes a
	// connection: give them back to the system rather than wait for the
	// heap to grow into them, off the path of the first reads.
	// Twice: buffers the decoder pooled survive one collection (sync.Pool).
	// The caller has let go of the bundle's image by now (TakeOver's doc).
	// Again a moment later, for what the caller held a little longer.
	time.AfterFunc(300*time.Millisecond, func() {
		runtime.GC()
		debug.FreeOSMemory()
	})
	time.AfterFunc(time.Second, debug.FreeOSMemory)
	now := s.now()
	s.handOffStat.Store(&HandOffStatus{FromPID: t.meta.PID, FromVersion: t.meta.Version, Connections: int(n.Load()),
		PauseMS: float64(now.Sub(t.meta.FrozenAt).Microseconds()) / 1000, At: now})
	s.log.Info("hand-off taken over", zap.Int64("connections", n.Load()), zap.Int("from_pid", t.meta.PID),
		zap.String("from_version", t.meta.Version), zap.Duration("pause", now.Sub(t.meta.FrozenAt)),
		zap.Array("phases", phaseList(t.ph.done)))
	return int(n.Load())
}

// adopt serves one connection of the image, if its descriptor arrived
// (the map is only read while the parts run).
func (t *TakeOver) adopt(ci *connImage) bool {
	fd, ok := t.files[ci.Key]
	if !ok {
		return false // the client left while the process restarted
	}
	st := ci.Transport
	st.Fd = fd
	st.Verified = true // matched to its state by its ends (matchInOrder, matchByKey)
	s := t.s
	if _, err := s.ws.Adopt(st, func(c *netpoll.Conn) (netpoll.Session, error) { return s.resumeSession(c, ci) }); err != nil {
		s.log.Warn("hand-off: a connection could not be taken over", zap.String("conn", st.ID), zap.Error(err))
		return false
	}
	return true
}

// Release closes the descriptors not adopted, without a byte on the wire
// (the old process still holds them: an upgrade that was aborted).
func (t *TakeOver) Release() {
	for k, fd := range t.files {
		_ = unix.Close(fd)
		delete(t.files, k)
	}
}

// resumeSession is an adopted connection's session: its core session
// continued (daemon.Node.Resume), counted against the per-address and
// per-user limits as it was (a slot taken over is never refused), or the
// echo route's.
func (s *Server) resumeSession(c *netpoll.Conn, ci *connImage) (netpoll.Session, error) {
	addr := ci.Transport.Remote.Addr().Unmap()
	ls := s.up.limits.settings()
	if ci.Session == nil {
		if s.up.echoPath == "" {
			return nil, errors.New("a connection without a session, and no echo route")
		}
		var sess netpoll.Session = echoSession{c: c}
		if c.Deflate() {
			sess = echoSession{c: c, z: s.up.compressor}
		}
		s.up.limits.take(ls, addr, "")
		return &limitedSession{Session: sess, limits: s.up.limits, ls: ls, addr: addr}, nil
	}
	sess, err := s.node.Resume(c, *ci.Session)
	if err != nil {
		return nil, err
	}
	c.SetID(sess.ID())
	if !ls.tracking() {
		return sess, nil
	}
	s.up.limits.take(ls, addr, ci.Session.Subject)
	return &limitedSession{Session: sess, limits: s.up.limits, ls: ls, addr: addr, user: ci.Session.Subject}, nil
}

// DrainFiles closes connections handed over in an image that this binary
// cannot read: each is sent a close frame with code (1012, service
// restart, tells clients to come back) and reason, then closed, as a
// drain would. Best effort: a socket whose buffer is full is just closed.
func DrainFiles(files []int, code int, reason string) {
	frame := closeFrame(code, reason)
	for _, fd := range files {
		_ = unix.SetNonblock(fd, true) // never wait on a client that does not read
		_, _ = unix.Write(fd, frame)
		_ = unix.Close(fd)
	}
}

// closeFrame is an unmasked close frame; reason is cut to fit one.
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	b := make([]byte, 4, 4+len(reason))
	b[0], b[1] = 0x88, byte(2+len(reason))
	binary.BigEndian.PutUint16(b[2:], uint16(code))
	return append(b, reason...)
}
