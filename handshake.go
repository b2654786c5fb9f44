package fanoutd

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
)

// The seams line up: the core's session is the transport's session, the
// transport's connection is the core's transport.
var (
	_ netpoll.Session         = (*daemon.Session)(nil)
	_ daemon.Transport        = (*netpoll.Conn)(nil)
	_ daemon.MissedTransport  = (*netpoll.Conn)(nil)
	_ daemon.DeflateTransport = (*netpoll.Conn)(nil)
	_ netpoll.Handler         = (*upgrader)(nil)
)

// upgrader authenticates WebSocket upgrades and opens their sessions.
type upgrader struct {
	node     *daemon.Node
	auth     *liveAuth
	cur      atomic.Pointer[upgradeSettings]
	limits   *connLimits
	log      *zap.Logger
	echoPath string // conformance.echo_path; "" when the echo route is off
	// compressor, when set, compresses the echo route's answers to the
	// connections that negotiated permessage-deflate.
	compressor *netpoll.Compressor
	refused    refusals
}

// upgradeSettings are the reloadable parts of an upgrade's checks, one
// immutable version per reload.
type upgradeSettings struct {
	origins originPolicy
	// cookie is the name of the cookie that may carry the token ("": none).
	cookie string
	// anonymous lets a request without a token in as nobody (public
	// channels only).
	anonymous bool
}

// protocol is the client protocol's subprotocol name.
const protocol = "fanout.v1"

// bearerProtocol prefixes the token in Sec-WebSocket-Protocol, the only
// header a browser's WebSocket can set.
const bearerProtocol = "bearer."

// Accept decides on an upgrade before the 101 response (admit) and opens
// the session. A refused request never becomes a WebSocket. The echo route,
// when configured, has its own checks (acceptEcho).
//
// Channels named in the URL (connect-time subscriptions, PROTOCOL.md §1)
// are subscribed here, before the 101 is written: the welcome and every
// subscribed reply leave in the 101's write, and the client saves the
// round trip of its subscribe commands. A URL that names them badly is
// refused (400) before anything else is checked.
func (u *upgrader) Accept(c *netpoll.Conn, r *netpoll.Request) (netpoll.Session, error) {
	if u.echoPath != "" && r.Path == u.echoPath {
		return u.acceptEcho(c, r)
	}
	subs, err := u.node.ConnectSubscriptions(r.RawQuery, "")
	if err != nil {
		return nil, u.refuse(reasonConnectChannels, &netpoll.HTTPError{Status: http.StatusBadRequest, Reason: err.Error()})
	}
	id, addr, ls, err := u.admit(r)
	if err != nil {
		return nil, err
	}
	sess := u.node.ConnectWith(c, id, subs)
	c.SetID(sess.ID())
	if !ls.tracking() {
		return sess, nil
	}
	return &limitedSession{Session: sess, limits: u.limits, ls: ls, addr: addr, user: id.Subject}, nil
}

// admit runs a connection request's checks, cheapest first: Origin (403),
// the upgrade rate (503), the subprotocol offer (400), connections from
// this address (429), the token (401), connections of this user (429). Each
// check reads the settings in force when the request arrived: a reload
// never applies half of itself to one request. On success the request
// holds its address and user slots under ls: the caller releases them
// (limits.release) when the connection ends. The SSE route admits its
// streams with it too.
func (u *upgrader) admit(r *netpoll.Request) (daemon.Identity, netip.Addr, *limitSettings, error) {
	set, ls := u.cur.Load(), u.limits.settings()
	if !set.origins.allows(r.Origin) {
		if ce := u.log.Check(zap.DebugLevel, "connection refused: origin"); ce != nil {
			ce.Write(zap.Stringer("remote", r.RemoteAddr), zap.String("origin", r.Origin))
		}
		return daemon.Identity{}, netip.Addr{}, ls, u.refuse(reasonOrigin, &netpoll.HTTPError{Status: http.StatusForbidden, Reason: "origin not allowed"})
	}
	if !ls.allowUpgrade() {
		return daemon.Identity{}, netip.Addr{}, ls, u.refuse(reasonRate, errUpgradeRate())
	}
	if len(r.Protocols) > 0 && !slices.Contains(r.Protocols, protocol) {
		// A browser that offered subprotocols fails a 101 that selects
		// none: say why now instead of upgrading a doomed connection.
		return daemon.Identity{}, netip.Addr{}, ls, u.refuse(reasonSubprotocol, &netpoll.HTTPError{Status: http.StatusBadRequest,
			Reason: "offer the " + protocol + " subprotocol (with bearer.<token>)"})
	}
	addr := clientAddr(r.RemoteAddr)
	if !u.limits.acquireIP(ls, addr) {
		return daemon.Identity{}, addr, ls, u.refuse(reasonPerIP, errTooManyFromAddr())
	}
	id, err := u.verify(r, set)
	if err != nil {
		u.limits.release(ls, addr, "")
		return id, addr, ls, err
	}
	if !u.limits.acquireUser(ls, id.Subject) {
		u.limits.release(ls, addr, "")
		return id, addr, ls, u.refuse(reasonPerUser, &netpoll.HTTPError{Status: http.StatusTooManyRequests, Reason: "too many connections for this user"})
	}
	return id, addr, ls, nil
}

// errUpgradeRate and errTooManyFromAddr are new values each time: the
// transport may keep the header map.
func errUpgradeRate() error {
	return &netpoll.HTTPError{Status: http.StatusServiceUnavailable, Reason: "upgrade rate exceeded",
		Header: http.Header{"Retry-After": {"1"}}}
}

func errTooManyFromAddr() error {
	return &netpoll.HTTPError{Status: http.StatusTooManyRequests, Reason: "too many connections from this address"}
}

// verify checks the request's token: 401 without a valid one, unless the
// request carries no credential at all (credentialOf) and anonymous access
// is on: a credential that is not a valid token is never downgraded to
// anonymous. A cookie-borne token needs an Origin:
// a browser always sends one, and the allowlist it was checked against is
// what keeps other sites from riding on the cookie.
func (u *upgrader) verify(r *netpoll.Request, set *upgradeSettings) (daemon.Identity, error) {
	token, carrier, bad := credentialOf(r, set.cookie)
	if carrier == carrierNone && set.anonymous {
		return daemon.Identity{}, nil
	}
	if bad != "" {
		return daemon.Identity{}, u.refuse(reasonToken, &netpoll.HTTPError{Status: http.StatusUnauthorized, Reason: bad,
			Header: http.Header{"Www-Authenticate": {`Bearer realm="fanoutd"`}}})
	}
	if carrier == carrierCookie && r.Origin == "" {
		return daemon.Identity{}, u.refuse(reasonCookieOrigin,
			&netpoll.HTTPError{Status: http.StatusForbidden, Reason: "a cookie token needs an Origin header"})
	}
	id, err := u.auth.Verify(token)
	if err != nil {
		if ce := u.log.Check(zap.DebugLevel, "upgrade refused"); ce != nil {
			// The reason names the failure; the token itself is never logged.
			ce.Write(zap.Stringer("remote", r.RemoteAddr), zap.String("carrier", carrier), zap.Error(err))
		}
		return id, u.refuse(reasonToken, &netpoll.HTTPError{Status: http.StatusUnauthorized, Reason: reason(err),
			Header: http.Header{"Www-Authenticate": {`Bearer realm="fanoutd"`}}})
	}
	return id, nil
}

func reason(err error) string {
	switch {
	case errors.Is(err, jwtauth.ErrNoToken):
		return "missing token"
	case errors.Is(err, jwtauth.ErrExpired):
		return "token expired"
	case errors.Is(err, jwtauth.ErrTokenTooLong):
		return "token too long"
	case errors.Is(err, errRevoked):
		return "token revoked"
	}
	return "invalid token"
}
