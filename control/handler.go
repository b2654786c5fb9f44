package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Handler returns the control routes. local selects the Unix socket's set,
// which adds the tap; the TCP API (behind its bearer key) gets the rest.
// The caller puts it behind the API's own authentication (ipc mounts it).
func (p *Plane) Handler(local bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/disconnect", p.action(OpDisconnect))
	mux.HandleFunc("POST /v1/revoke", p.action(OpRevoke))
	mux.HandleFunc("DELETE /v1/revoke", p.action(OpUnrevoke))
	mux.HandleFunc("GET /v1/revocations", p.revocations)
	mux.HandleFunc("POST /v1/subscribe", p.action(OpSubscribe))
	mux.HandleFunc("POST /v1/unsubscribe", p.action(OpUnsubscribe))
	mux.HandleFunc("GET /v1/connections", p.connections)
	mux.HandleFunc("GET /v1/channels/{channel}/history", p.history)
	mux.HandleFunc("DELETE /v1/channels/{channel}/history", p.clearHistory)
	mux.HandleFunc("GET /v1/nodes", p.nodes)
	if local {
		mux.HandleFunc("GET /v1/tap", p.tap)
		mux.HandleFunc("/v1/tap", methodNotAllowed("GET, HEAD"))
	}
	// Another method on a control path is a 405 with Allow and a JSON body,
	// as on the API's other paths (without these it fell to "/": a 404).
	mux.HandleFunc("/v1/disconnect", methodNotAllowed("POST"))
	mux.HandleFunc("/v1/revoke", methodNotAllowed("POST, DELETE"))
	mux.HandleFunc("/v1/revocations", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/v1/subscribe", methodNotAllowed("POST"))
	mux.HandleFunc("/v1/unsubscribe", methodNotAllowed("POST"))
	mux.HandleFunc("/v1/connections", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/v1/channels/{channel}/history", methodNotAllowed("GET, HEAD, DELETE"))
	mux.HandleFunc("/v1/nodes", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, http.StatusNotFound, "not found") })
	return mux
}

// request is the body of the action routes: one selector, and the fields
// of the op.
type request struct {
	User         string `json:"user"`
	ConnectionID string `json:"connection_id"`
	JTI          string `json:"jti"`
	Channel      string `json:"channel"`
	Code         int    `json:"code"`
	Reason       string `json:"reason"`
	// Until (RFC 3339) or For (a Go duration such as "1h") ends a
	// revocation.
	Until time.Time `json:"until"`
	For   string    `json:"for"`
}

// action serves one op's route.
func (p *Plane) action(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, p.o.MaxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil && !errors.Is(err, io.EOF) {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				// 413 like an oversized publish, not "malformed JSON".
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body too large: at most %d bytes", tooLarge.Limit))
				return
			}
			writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
			return
		}
		a, err := p.toAction(op, q)
		if err != nil {
			writeError(w, errStatus(err), err.Error())
			return
		}
		res, err := p.Do(r.Context(), a)
		if err != nil {
			writeError(w, errStatus(err), err.Error())
			return
		}
		p.log.Info("control action", zap.String("op", a.Op), zap.String("by", a.By),
			zap.Int("applied", res.Applied), zap.Strings("missing", res.Missing))
		writeJSON(w, http.StatusOK, res)
	}
}

// toAction turns a request into an Action: the selector is whichever of
// user, connection_id and jti is set (channel, for a disconnect).
func (p *Plane) toAction(op string, q request) (Action, error) {
	a := Action{Op: op, Code: q.Code, Reason: q.Reason, Until: q.Until}
	set := 0
	for _, s := range [...]struct{ by, v string }{{"user", q.User}, {"connection_id", q.ConnectionID}, {"jti", q.JTI}} {
		if s.v != "" {
			a.By, a.Value = s.by, s.v
			set++
		}
	}
	switch op {
	case OpDisconnect:
		if q.Channel != "" {
			a.By, a.Value = "channel", q.Channel
			set++
		}
	case OpSubscribe, OpUnsubscribe, OpClearHistory:
		a.Channel = q.Channel
	}
	if set > 1 {
		return a, fmt.Errorf("%w: give one of user, connection_id, jti (or channel)", ErrBadAction)
	}
	if q.For != "" {
		d, err := time.ParseDuration(q.For)
		if err != nil || d <= 0 || !q.Until.IsZero() {
			return a, fmt.Errorf("%w: \"for\" must be a positive duration such as \"1h\", without \"until\"", ErrBadAction)
		}
		a.Until = p.o.Now().Add(d)
	}
	return a, nil
}

func (p *Plane) revocations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, p.revoked.list(p.o.Now()))
}

func (p *Plane) nodes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"node": p.o.NodeID, "nodes": p.Peers(), "taps": p.taps.open.Load()})
}

// connections lists every node's connections, each with its node, or
// with ?local=1 this node's alone (a bare list).
func (p *Plane) connections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("local") != "" {
		writeJSON(w, http.StatusOK, p.o.Node.Connections(q.Get("user"), q.Get("channel")))
		return
	}
	a := Action{Op: OpConnections, Channel: q.Get("channel")}
	if u := q.Get("user"); u != "" {
		a.By, a.Value = "user", u
	}
	res, err := p.Do(r.Context(), a)
	if err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, mergeConnections(res))
}

// Connections is the answer of GET /v1/connections: every node's
// connections, each naming its node, and the nodes that could not tell.
type Connections struct {
	Connections []map[string]any `json:"connections"`
	Errors      []NodeResult     `json:"errors,omitempty"`
	Missing     []string         `json:"missing,omitempty"`
}

func mergeConnections(res Result) Connections {
	out := Connections{Connections: []map[string]any{}, Missing: res.Missing}
	for _, n := range res.Nodes {
		var list []map[string]any
		if n.Error != "" || json.Unmarshal(n.Data, &list) != nil {
			out.Errors = append(out.Errors, NodeResult{Node: n.Node, Error: cmpReason(n.Error, "malformed answer")})
			continue
		}
		for _, c := range list {
			c["node"] = n.Node
			out.Connections = append(out.Connections, c)
		}
	}
	return out
}

func (p *Plane) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since uint64
	has := q.Has("since")
	if has {
		var err error
		if since, err = strconv.ParseUint(q.Get("since"), 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "since must be an offset (a non-negative integer)")
			return
		}
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "limit must be a non-negative integer")
			return
		}
		limit = n
	}
	page, err := p.o.Node.History(r.Context(), r.PathValue("channel"), since, q.Get("epoch"), has, limit)
	if err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (p *Plane) clearHistory(w http.ResponseWriter, r *http.Request) {
	res, err := p.Do(r.Context(), Action{Op: OpClearHistory, Channel: r.PathValue("channel")})
	if err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// tap streams NDJSON lines until the client goes or the plane stops. The
// server's write timeout would end it after 30 s: each write gets its own
// deadline instead (a reader that stops reading is cut off after
// tapWriteTimeout, while publishing only ever drops lines for it), and an
// idle tap writes a keepalive line every tapKeepAlive.
func (p *Plane) tap(w http.ResponseWriter, r *http.Request) {
	tp := p.taps.add(r.URL.Query().Get("channels"))
	if tp == nil {
		writeError(w, http.StatusServiceUnavailable, ErrTooManyTaps.Error())
		return
	}
	go p.helloBounded() // the other nodes forward what this tap follows
	defer func() {
		p.taps.remove(tp)
		go p.helloBounded() // and stop
	}()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(tapWriteTimeout))
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	keep := time.NewTicker(tapKeepAlive)
	defer keep.Stop()
	var reported uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tp.closed:
			return
		case line := <-tp.lines:
			_ = rc.SetWriteDeadline(time.Now().Add(tapWriteTimeout))
			if d := tp.dropped.Load(); d != reported {
				_, _ = fmt.Fprintf(w, "{\"kind\":\"dropped\",\"count\":%d}\n", d-reported)
				reported = d
			}
			if _, err := w.Write(line); err != nil {
				return
			}
			_ = rc.Flush()
		case <-keep.C:
			_ = rc.SetWriteDeadline(time.Now().Add(tapWriteTimeout))
			if _, err := io.WriteString(w, "{\"kind\":\"keepalive\"}\n"); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}

// tapKeepAlive is how often an idle tap writes a line; tapWriteTimeout
// bounds one write.
const (
	tapKeepAlive    = 15 * time.Second
	tapWriteTimeout = 10 * time.Second
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// methodNotAllowed answers another method on a control path.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
