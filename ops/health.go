package ops

import (
	"context"
	"encoding/json"
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

// Healthz answers 200 while the process answers HTTP at all: liveness.
func (p *Ops) Healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz answers 200 when the daemon serves and every readiness check
// passes, 503 otherwise, with each check's outcome. A check's error text
// is the application's: keep secrets out of it.
func (p *Ops) Readyz(w http.ResponseWriter, r *http.Request) {
	src := p.o.Source
	checks := map[string]string{"listeners": "ok"}
	ok := true
	switch {
	case src.Draining():
		checks["listeners"], ok = "draining", false
	case !src.Serving():
		checks["listeners"], ok = "starting", false
	}
	if present, up, why := src.Broker(); present {
		checks["broker"] = "ok"
		if !up {
			// The link is down, or up without delivering (the broker watch),
			// with what the broker last heard when it says (NOAUTH, JetStream
			// off, stream lost).
			checks["broker"], ok = "link down or not delivering", false
			if why != "" {
				checks["broker"] += ": " + why
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	for _, c := range p.o.Readiness {
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
