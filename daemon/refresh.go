package daemon

import (
	"fmt"
)

// refresh replaces the session's token with a newer one for the same user:
// the expiry moves, the warning re-arms, and the channel patterns become the
// new token's. A subscription the new token no longer allows is ended with
// an "unsubscribed" frame carrying code "forbidden". A refused refresh
// leaves the session as it was: it still closes when the old token expires.
func (s *Session) refresh(cmd command) error {
	if s.node.opts.Auth == nil {
		return fmt.Errorf("%w: refresh is not enabled on this server", ErrUnauthorized)
	}
	if s.subject == "" {
		return fmt.Errorf("%w: an anonymous connection has no token to refresh", ErrUnauthorized)
	}
	id, err := s.node.opts.Auth.Verify(cmd.Token)
	switch {
	case err != nil:
		// The verifier's errors name the failure, never the token.
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	case id.Subject != s.subject:
		return fmt.Errorf("%w: the token is for another user", ErrUnauthorized)
	case s.expiresAt() != 0 && (id.Expires.IsZero() || id.Expires.UnixNano() < s.expiresAt()):
		return fmt.Errorf("%w: the token expires before the current one", ErrUnauthorized)
	}
	s.patterns = s.node.patterns(id)
	s.jti = id.TokenID
	s.revokeForbidden()
	s.setExpiry(id)
	sendReply(s, reply{Type: "refreshed", ID: cmd.ID, ExpiresAt: unixSeconds(id)})
	return nil
}

// revokeForbidden ends the subscriptions the current patterns do not allow.
func (s *Session) revokeForbidden() {
	s.subs.deleteFunc(func(sub *subscription) bool {
		if permits(s.patterns, sub.ch.name) {
			return false
		}
		s.node.hub.remove(sub)
		s.node.subs.Add(-1)
		s.node.logConn(s, connEvent{typ: connUnsubscribe, channel: sub.ch.name})
		s.node.notePresence(s, sub.ch.name, false)
		sendReply(s, reply{Type: "unsubscribed", Channel: sub.ch.name, Code: errorCode(ErrForbidden),
			Message: "no longer allowed by the refreshed token"})
		return true
	})
}

// setExpiry arms the session's expiry (none for a token without one) and
// re-arms the warning.
func (s *Session) setExpiry(id Identity) {
	if id.Expires.IsZero() {
		return
	}
	s.expiry.set(id.Expires.UnixNano(), false) // swept from now on (SweepExpiries)
}

func unixSeconds(id Identity) int64 {
	if id.Expires.IsZero() {
		return 0
	}
	return id.Expires.Unix()
}
