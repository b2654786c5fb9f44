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
	return cfg.API.Key != "" || cfg.SSE.Enabled || metricsOnTCP(cfg) || cfg.Health.Enabled || cfg.Status.Enabled
}

// metricsOnTCP: /metrics goes on the TCP listener unless it has an
// address of its own.
func metricsOnTCP(cfg config.Config) bool { return cfg.Metrics.Enabled && cfg.Metrics.Listen == "" }

// tcpRoutes is what the TCP listener serves over HTTP under cfg, on a
// private mux (two daemons in one process must not share routes).
func (s *Server) tcpRoutes(cfg config.Config) http.Handler {
	mux := http.NewServeMux()
	if s.sse != nil {
		mux.Handle(cfg.SSE.Path, s.sse) // more specific than "/": the API key does not apply
	}
	if metricsOnTCP(cfg) {
		mux.Handle("GET /metrics", s.ops.Metrics())
	}
	if cfg.Health.Enabled {
		s.healthRoutes(mux)
	}
	if cfg.Status.Enabled {
		c := s.ops.Console()
		mux.Handle("GET /{$}", c)
		mux.Handle("GET /status/history.json", c)
		mux.Handle("GET /status/tables.json", c)
	}
	if cfg.API.Key != "" {
		// Every other path too: without the key, a request learns nothing
		// (401), as before the TCP listener served anything else.
		o := s.apiOptions(cfg)
		o.Mount = s.ctl.Handler(false) // no tap on TCP
		mux.Handle("/", ipc.NewTCPHandler(o))
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "not found", http.StatusNotFound)
		})
	}
	return mux
}

func (s *Server) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.ops.Healthz)
	mux.HandleFunc("GET /readyz", s.ops.Readyz)
}

// metricsRoutes is what metrics.listen serves: /metrics while
// metrics.enabled, and always /healthz and /readyz, so that a monitoring
// network reaching only that address can probe the daemon too.
func (s *Server) metricsRoutes(cfg config.Config) http.Handler {
	mux := http.NewServeMux()
	if cfg.Metrics.Enabled {
		mux.Handle("GET /metrics", s.ops.Metrics())
	}
	s.healthRoutes(mux)
	mux.HandleFunc("/", http.NotFound)
	return mux
}
