package fanoutd

import (
	"net/http"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/ipc"
)

// servesHTTP reports whether cfg serves anything besides WebSockets on the
// TCP listener: the publish API (api.key), metrics, health or the status
// page. Without any, requests for other paths are answered 404 by the
// transport itself, and no HTTP server runs.
func servesHTTP(cfg config.Config) bool {
	return cfg.API.Key != "" || cfg.SSE.Enabled
}

// tcpRoutes is what the TCP listener serves over HTTP under cfg, on a
// private mux (two daemons in one process must not share routes).
func (s *Server) tcpRoutes(cfg config.Config) http.Handler {
	mux := http.NewServeMux()
	if s.sse != nil {
		mux.Handle(cfg.SSE.Path, s.sse) // more specific than "/": the API key does not apply
	}
	if cfg.API.Key != "" {
		// Every other path too: without the key, a request learns nothing
		// (401), as before the TCP listener served anything else.
		mux.Handle("/", ipc.NewTCPHandler(s.apiOptions(cfg)))
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "not found", http.StatusNotFound)
		})
	}
	return mux
}
