package ops

import (
	"cmp"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"go.uber.org/zap"
)

// Console serves the admin console: GET / (the page), and behind the same
// Host check GET /status/history.json (the server-side window, so that a
// page opened now draws the last minutes at once) and GET
// /status/tables.json (connections and channels, which the page polls).
// The page is read-only: it acts on nothing. Mount it at "GET /{$}" and
// "GET /status/".
func (p *Ops) Console() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.page)
	mux.HandleFunc("GET /status/history.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			EveryMs  int64    `json:"every_ms"`
			WindowMs int64    `json:"window_ms"`
			Samples  []Sample `json:"samples"`
		}{p.o.HistoryEvery.Milliseconds(), p.o.HistoryWindow.Milliseconds(), p.history.samples()})
	})
	mux.HandleFunc("GET /status/tables.json", p.tables)
	mux.HandleFunc("/", http.NotFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.o.Settings().hostAllowed(r.Host) {
			// 421: this server does not answer for that name (DNS rebinding).
			http.Error(w, "unknown host: add it to status.allowed_hosts", http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		mux.ServeHTTP(w, r)
	})
}

// maxTableRows bounds each table the console gets: it is a view, not an
// export (the control API lists everything).
const maxTableRows = 500

// tables answers the connections (longest-lived first) and the channels
// (most subscribers first), each cut at maxTableRows, with their totals.
func (p *Ops) tables(w http.ResponseWriter, _ *http.Request) {
	conns := p.o.Node.Connections("", "")
	slices.SortFunc(conns, func(a, b daemon.Connection) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.ID, b.ID))
	})
	chans := p.o.Node.Channels()
	slices.SortFunc(chans, func(a, b daemon.ChannelCount) int {
		return cmp.Or(b.Subscribers-a.Subscribers, strings.Compare(a.Channel, b.Channel))
	})
	writeJSON(w, http.StatusOK, struct {
		Connections      []daemon.Connection   `json:"connections"`
		ConnectionsTotal int                   `json:"connections_total"`
		Channels         []daemon.ChannelCount `json:"channels"`
		ChannelsTotal    int                   `json:"channels_total"`
	}{nonNil(conns[:min(len(conns), maxTableRows)]), len(conns), nonNil(chans[:min(len(chans), maxTableRows)]), len(chans)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

//go:embed console.html
var consoleHTML string

var consoleTemplate = template.Must(template.New("console").Parse(consoleHTML))

// consoleView is what the page's template fills in; every string is
// escaped by html/template. The numbers are the first paint: the script
// replaces them with each status event.
type consoleView struct {
	Status
	Uptime, Started string
	Config          []Row
	// Live updates: the token for StatusChannel ("" for none), the
	// WebSocket path and the script's CSP nonce.
	Token, WSPath, Nonce string
	// Initial is the status as JSON, for the script's first paint.
	Initial string
}

func (p *Ops) page(w http.ResponseWriter, _ *http.Request) {
	st := p.snapshot()
	set := p.o.Settings()
	b, _ := json.Marshal(st)
	v := consoleView{Status: st, Config: set.Config, Token: p.o.MintStatusToken(), WSPath: set.WSPath,
		Nonce: newNonce(), Initial: string(b), Started: p.o.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		Uptime: p.o.Now().Sub(p.o.Started).Truncate(time.Second).String()}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Only this response's own script, a WebSocket and fetches back to this
	// daemon, no style or image from elsewhere, no framing by others.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+v.Nonce+
		"'; connect-src 'self' ws: wss:; img-src data:; frame-ancestors 'none'")
	if err := consoleTemplate.Execute(w, v); err != nil {
		p.log.Debug("console not written", zap.Error(err))
	}
}

func newNonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}
