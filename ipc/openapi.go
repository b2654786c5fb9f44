package ipc

import (
	"net/http"
	"strconv"
)

// openAPI serves GET /v1/openapi.yaml: the API's own description
// (Options.OpenAPI), so that a client generator or a reader gets the
// document of the daemon that answers, not of some other version. It is
// served on the Unix socket and, behind the key, on TCP like every route.
func (a *api) openAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml") // RFC 9512
	h.Set("Content-Length", strconv.Itoa(len(a.openapi)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.openapi) // a write error means the client went away
}
