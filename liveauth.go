package fanoutd

import (
	"sync/atomic"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

// liveAuth is the token verifier in force. A reload builds a new
// jwtauth.Verifier (a rotated HMAC secret, another public key file,
// audience or issuer) and swaps it in: upgrades and "refresh" commands
// from then on use it, while connections already open stay open (their
// token was checked at their handshake, and is checked again only when
// they refresh it).
type liveAuth struct {
	v atomic.Pointer[jwtauth.Verifier]
}

var _ daemon.Authenticator = (*liveAuth)(nil)

func newLiveAuth(v *jwtauth.Verifier) *liveAuth {
	a := &liveAuth{}
	a.v.Store(v)
	return a
}

// Verify checks token with the verifier in force.
func (a *liveAuth) Verify(token string) (daemon.Identity, error) { return a.v.Load().Verify(token) }

func (a *liveAuth) set(v *jwtauth.Verifier) { a.v.Store(v) }
