package main

import (
	"encoding/json"
	"html/template"
	"net/http"

	"github.com/fanoutd/fanoutd"
	"go.uber.org/zap"
)

// routes are the application's own pages, on its own listener: fanoutd
// needs no route here, it serves its WebSockets on the listener it was given.
func (a app) routes(srv *fanoutd.Server, wsURL, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		// A real application would mint the token for the logged-in user here.
		if err := page.Execute(w, map[string]string{"URL": wsURL, "Token": token}); err != nil {
			a.Log.Warn("rendering the page", zap.Error(err))
		}
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(srv.Stats())
	})
	return mux
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>fanoutd embedded</title>
<pre id="log"></pre>
<script>
const ws = new WebSocket({{.URL}}, ['fanout.v1', 'bearer.' + {{.Token}}]);
ws.onopen = () => ws.send(JSON.stringify({action: 'subscribe', channel: 'clock', id: '1'}));
ws.onmessage = (e) => { document.getElementById('log').textContent += e.data + '\n'; };
ws.onclose = (e) => { document.getElementById('log').textContent += 'closed ' + e.code + '\n'; };
</script>
`))
