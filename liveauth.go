package fanoutd

import (
	"fmt"
	"sync/atomic"
	"time"

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
	// revoked, when set, is the control plane's revocation list: a valid
	// token of a revoked user or id is refused all the same.
	revoked func(user, jti string) (time.Time, bool)
}

var _ daemon.Authenticator = (*liveAuth)(nil)

func newLiveAuth(v *jwtauth.Verifier) *liveAuth {
	a := &liveAuth{}
	a.v.Store(v)
	return a
}

// Verify checks token with the verifier in force, then the revocations.
func (a *liveAuth) Verify(token string) (daemon.Identity, error) {
	id, err := a.v.Load().Verify(token)
	if err == nil && a.revoked != nil {
		if until, ok := a.revoked(id.Subject, id.TokenID); ok {
			return daemon.Identity{}, fmt.Errorf("%w until %s", errRevoked, until.UTC().Format(time.RFC3339))
		}
	}
	return id, err
}

func (a *liveAuth) set(v *jwtauth.Verifier) { a.v.Store(v) }
