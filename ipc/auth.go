package ipc

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// bearerAuth guards the TCP API. It compares SHA-256 digests rather than the
// tokens themselves because subtle.ConstantTimeCompare returns early on a
// length mismatch, which would leak the key's length.
type bearerAuth struct {
	want [sha256.Size]byte
	next http.Handler
	log  *zap.Logger
}

func newBearerAuth(key string, next http.Handler, log *zap.Logger) *bearerAuth {
	return &bearerAuth{want: sha256.Sum256([]byte(key)), next: next, log: log}
}

func (a *bearerAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r.Header.Get("Authorization")) {
		// Debug only: a scanner would otherwise flood the log. The header
		// itself is never logged since it may hold a real key.
		a.log.Debug("unauthorized request", zap.String("remote", r.RemoteAddr))
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	a.next.ServeHTTP(w, r)
}

func (a *bearerAuth) authorized(header string) bool {
	const scheme = "Bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(header[len(scheme):])))
	return subtle.ConstantTimeCompare(got[:], a.want[:]) == 1
}
