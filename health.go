package fanoutd

import (
	"context"
	"net/http"
	"time"
)

// ReadinessCheck is one condition /readyz asks about, on top of the
// daemon's own (its listeners are bound and served, and it is not
// draining): a broker link, or anything the embedding application needs
// before clients should be sent here.
type ReadinessCheck struct {
	// Name labels the check in /readyz's answer.
	Name string
	// Check returns nil when ready. It is called from the request's
	// goroutine with a context that ends after readyTimeout; it must not
	// outlive it.
	Check func(ctx context.Context) error
}

// readyTimeout bounds all the readiness checks of one /readyz request: a
// probe that hangs is a failed probe.
const readyTimeout = 2 * time.Second

// ready reports whether the daemon serves: Run started serving its
// listeners (bound by New) and Shutdown has not begun.
func (s *Server) ready() bool { return s.serving.Load() && !s.draining.Load() }

// healthz answers 200 while the process answers HTTP at all: liveness.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the daemon serves and every readiness check
// passes, 503 otherwise, with each check's outcome. A check's error text
// is the application's: keep secrets out of it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"listeners": "ok"}
	ok := true
	switch {
	case s.draining.Load():
		checks["listeners"], ok = "draining", false
	case !s.serving.Load():
		checks["listeners"], ok = "starting", false
	}
	if s.broker != nil {
		checks["broker"] = "ok"
		if !s.BrokerUp() {
			// The link is down, or up without delivering (watchBroker).
			checks["broker"], ok = "link down or not delivering", false
			if why := s.brokerNotReady(); why != "" {
				checks["broker"] += ": " + why // what the broker last heard (NOAUTH, JetStream off, stream lost)
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	for _, c := range s.readiness {
		checks[c.Name] = "ok"
		if err := c.Check(ctx); err != nil {
			checks[c.Name], ok = err.Error(), false
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}{ok, checks})
}
