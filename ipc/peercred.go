package ipc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"

	"go.uber.org/zap"
)

// PeerCred is the identity of the process at the other end of a Unix socket
// connection, as the kernel recorded it when that process connected.
type PeerCred struct {
	UID, GID, PID int
}

// peerCredKey is the context key under which PeerCredContext stores a
// PeerCred; unexported so nothing outside the package can forge one.
type peerCredKey struct{}

// PeerCredContext returns ctx carrying the peer credentials of c when c is a
// *net.UnixConn and the kernel reports them, and ctx unchanged otherwise. It
// has the signature of http.Server.ConnContext, which calls it once per
// accepted connection, so the credentials cost one system call per
// connection, not per request. NewHTTPServer installs it.
//
// Only *net.UnixConn is asked: on a TCP socket Linux answers SO_PEERCRED
// with the overflow uid (65534) rather than an error, which must never pass
// for an identity.
func PeerCredContext(ctx context.Context, c net.Conn) context.Context {
	if w, ok := c.(interface{ unixConn() net.Conn }); ok {
		c = w.unixConn() // a connection the publish fast path handed over
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	cred, err := unixPeerCred(uc)
	if err != nil {
		// Fail closed: without credentials an allowlist refuses the requests.
		return ctx
	}
	return context.WithValue(ctx, peerCredKey{}, cred)
}

// PeerCredFromContext returns the credentials PeerCredContext stored in ctx
// (or in the context of a request served on such a connection).
func PeerCredFromContext(ctx context.Context) (PeerCred, bool) {
	cred, ok := ctx.Value(peerCredKey{}).(PeerCred)
	return cred, ok
}

// peerAuth guards the Unix socket API with a uid/gid allowlist. It is
// immutable after construction.
type peerAuth struct {
	uids, gids []int
	next       http.Handler
	log        *zap.Logger
}

// newPeerAuth returns next unchanged when no allowlist is configured. The
// slices are copied so the caller's Options can change afterwards.
func newPeerAuth(uids, gids []int, next http.Handler, log *zap.Logger) http.Handler {
	if len(uids) == 0 && len(gids) == 0 {
		return next
	}
	return &peerAuth{uids: slices.Clone(uids), gids: slices.Clone(gids), next: next, log: log}
}

func (a *peerAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cred, ok := PeerCredFromContext(r.Context())
	if !ok {
		a.log.Warn("refused request: peer credentials unavailable (server lacks PeerCredContext?)")
		writeError(w, http.StatusForbidden, "forbidden: peer credentials unavailable")
		return
	}
	if !slices.Contains(a.uids, cred.UID) && !slices.Contains(a.gids, cred.GID) {
		a.log.Warn("refused request from peer not in allowlist",
			zap.Int("uid", cred.UID), zap.Int("gid", cred.GID), zap.Int("pid", cred.PID))
		writeError(w, http.StatusForbidden,
			fmt.Sprintf("forbidden: peer uid %d gid %d not allowed", cred.UID, cred.GID))
		return
	}
	a.next.ServeHTTP(w, r)
}
