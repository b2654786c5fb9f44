package ipc

import (
	"errors"
	"net/http"

	"go.uber.org/zap"
)

// Reloader re-reads the daemon's configuration for POST /v1/reload. It is
// optional (Options.Reloader); without it the route answers 404. The root
// package implements it.
type Reloader interface {
	// Reload applies the configuration as it reads now and returns a
	// JSON-encodable report of what changed. An error with an
	// `Invalid() bool` method returning true is a configuration that was
	// refused, the old one still in force (400); its `Problems()
	// []string`, when it has that method, are listed in the answer. Any
	// other error is a 500. Called from a request goroutine; calls may
	// overlap, and the implementation serialises them.
	Reload() (report any, err error)
}

// reloadRefusedBody is the 400 of a refused configuration.
type reloadRefusedBody struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors"`
}

// reload serves POST /v1/reload (the Unix socket only: changing the
// daemon's configuration is for whoever may write the socket, never for
// an API key on the network).
func (a *api) reload(w http.ResponseWriter, _ *http.Request) {
	report, err := a.reloader.Reload()
	if err == nil {
		_ = writeJSON(w, http.StatusOK, report)
		return
	}
	var invalid interface{ Invalid() bool }
	if errors.As(err, &invalid) && invalid.Invalid() {
		body := reloadRefusedBody{Error: "invalid configuration", Errors: []string{err.Error()}}
		var p interface{ Problems() []string }
		if errors.As(err, &p) {
			body.Errors = p.Problems()
		}
		_ = writeJSON(w, http.StatusBadRequest, body)
		return
	}
	a.log.Error("reload failed", zap.Error(err))
	writeError(w, http.StatusInternalServerError, "reload failed: "+err.Error())
}
