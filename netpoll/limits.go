package netpoll

import "time"

// Limits are the Options a running Server takes anew (SetLimits), for a
// configuration reload. Zero values mean the Options defaults.
//
// They sit behind an atomic pointer, so the read and write paths load them
// without a lock. A new limit applies from the next check: a message being
// assembled is measured against the limit in force when each fragment
// arrives, and a queue already over a lowered WriteQueueBytes is not cut,
// its next frame just has to fit.
type Limits struct {
	MaxMessageSize   int
	MaxFragments     int
	WriteQueueBytes  int
	MaxHeaderBytes   int
	HandshakeTimeout time.Duration
	MessageTimeout   time.Duration
	MaxConnsPerIP    int
}

// limits extracts the reloadable part of o, whose defaults are applied.
func (o Options) limits() *Limits {
	return &Limits{
		MaxMessageSize:   o.MaxMessageSize,
		MaxFragments:     o.MaxFragments,
		WriteQueueBytes:  o.WriteQueueBytes,
		MaxHeaderBytes:   o.MaxHeaderBytes,
		HandshakeTimeout: o.HandshakeTimeout,
		MessageTimeout:   o.MessageTimeout,
		MaxConnsPerIP:    o.MaxConnsPerIP,
	}
}

// SetLimits replaces the reloadable limits; safe from any goroutine.
func (s *Server) SetLimits(l Limits) {
	o := s.opts
	o.MaxMessageSize, o.MaxFragments, o.WriteQueueBytes = l.MaxMessageSize, l.MaxFragments, l.WriteQueueBytes
	o.MaxHeaderBytes, o.HandshakeTimeout, o.MessageTimeout = l.MaxHeaderBytes, l.HandshakeTimeout, l.MessageTimeout
	o.MaxConnsPerIP = l.MaxConnsPerIP
	s.live.Store(o.withDefaults().limits())
}

// lim is the limits in force.
func (s *Server) lim() *Limits { return s.live.Load() }
