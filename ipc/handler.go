package ipc

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"mime"
	"net/http"
	"slices"
	"sync"

	"go.uber.org/zap"
)

// api serves the routes of one handler; it is immutable after construction
// and so shared freely by the server's request goroutines.
type api struct {
	pub Publisher
	dir Directory // nil: no read routes
	// reloader serves POST /v1/reload; nil (always on TCP): 404.
	reloader Reloader
	// openapi is the document GET /v1/openapi.yaml serves; nil: 404.
	openapi []byte
	mount   http.Handler // Options.Mount; nil: 404
	log     *zap.Logger
	limit   int64
	// states pools the publish requests' buffers (publishState).
	states *sync.Pool
}

// routes builds a private mux: the default mux is process-global and two
// daemons in one process must not share routes. The method-less patterns
// catch wrong methods so their 405 has a JSON body like every other error.
func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/publish", a.publish)
	mux.HandleFunc("/v1/publish", methodNotAllowed("POST"))
	mux.HandleFunc("POST /v1/publish/stream", a.publishStream)
	mux.HandleFunc("/v1/publish/stream", methodNotAllowed("POST"))
	mux.HandleFunc("GET /v1/stats", a.stats)
	mux.HandleFunc("/v1/stats", methodNotAllowed("GET, HEAD"))
	if a.dir != nil {
		mux.HandleFunc("GET /v1/channels", a.channels)
		mux.HandleFunc("/v1/channels", methodNotAllowed("GET, HEAD"))
		mux.HandleFunc("GET /v1/channels/{channel}/presence", a.presence)
		mux.HandleFunc("/v1/channels/{channel}/presence", methodNotAllowed("GET, HEAD"))
		mux.HandleFunc("GET /v1/events", a.events)
		mux.HandleFunc("/v1/events", methodNotAllowed("GET, HEAD"))
	}
	if a.openapi != nil {
		mux.HandleFunc("GET /v1/openapi.yaml", a.openAPI)
		mux.HandleFunc("/v1/openapi.yaml", methodNotAllowed("GET, HEAD"))
	}
	if a.reloader != nil {
		mux.HandleFunc("POST /v1/reload", a.reload)
		mux.HandleFunc("/v1/reload", methodNotAllowed("POST"))
	}
	if a.mount != nil {
		mux.Handle("/", a.mount)
	} else {
		mux.HandleFunc("/", notFound)
	}
	return mux
}

func (a *api) publish(w http.ResponseWriter, r *http.Request) {
	st := a.states.Get().(*publishState)
	defer func() {
		st.trim()
		a.states.Put(st)
	}()
	b, err := a.decodeRequest(st, r)
	if err != nil {
		a.decodeFailed(w, err)
		return
	}
	if problems := a.check(b); len(problems) > 0 {
		a.log.Debug("rejected publish", zap.Int("invalid", len(problems)))
		_ = writeJSON(w, http.StatusBadRequest, invalidBody{Error: "invalid event", Events: problems})
		return
	}
	n, err := a.publishAll(r.Context(), st, b)
	if err != nil {
		a.publishFailed(w, err, n, len(b.events))
		return
	}
	st.out = append(appendPublished(st.out[:0], n, st.positions), '\n')
	writeBody(w, http.StatusOK, st.out)
}

// decodeRequest reads the body whole into st and decodes it: with the lean
// decoder when it can, else with decodeBody over the same bytes, which is
// also what words every error.
func (a *api) decodeRequest(st *publishState, r *http.Request) (*batch, error) {
	body, err := st.readBody(r.Body, a.limit, r.ContentLength)
	if err != nil {
		return nil, classify(err, 0)
	}
	ndjson := isNDJSON(r.Header.Get("Content-Type"))
	st.reset(lineCap(a.limit))
	if st.d.decodeLean(body, ndjson) {
		return st.batch(), nil
	}
	return decodeBody(bytes.NewReader(body), ndjson, a.limit)
}

// isNDJSON: only an explicit NDJSON type selects the line form. Anything
// else, including no type, text/plain and the form type curl -d sends, is
// parsed as JSON, and a body that is not JSON gets "malformed JSON". The
// usual spellings are compared first: ParseMediaType allocates.
func isNDJSON(contentType string) bool {
	switch contentType {
	case "application/json", "":
		return false
	case "application/x-ndjson", "application/ndjson":
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/x-ndjson" || mt == "application/ndjson")
}

func (a *api) decodeFailed(w http.ResponseWriter, err error) {
	var me *malformedError
	switch {
	case errors.Is(err, errTooLarge):
		_ = writeJSON(w, http.StatusRequestEntityTooLarge, tooLargeBody{Error: "body too large", Limit: a.limit})
	case errors.As(err, &me):
		_ = writeJSON(w, http.StatusBadRequest, malformedBody{Error: "malformed JSON", Index: me.index, Detail: me.detail})
	case errors.Is(err, errNoEvents):
		writeError(w, http.StatusBadRequest, "no events")
	default:
		a.log.Debug("reading publish body", zap.Error(err))
		writeError(w, http.StatusBadRequest, "cannot read request body")
	}
}

// check runs the publisher's validation on every structurally valid event
// and merges its verdicts with the decoder's, in request order.
func (a *api) check(b *batch) []InvalidEvent {
	problems := b.problems
	for i := range b.events {
		e := &b.events[i]
		if err := a.pub.CheckEvent(e.channel, e.typ, b.payload(e)); err != nil {
			problems = append(problems, InvalidEvent{Index: e.index, Reason: err.Error()})
		}
	}
	slices.SortFunc(problems, func(x, y InvalidEvent) int { return cmp.Compare(x.Index, y.Index) })
	return problems
}

// publishAll publishes in request order and stops at the first failure,
// returning how many events went out before it; st.positions receives each
// event's place in its channel. b is st's own batch or one decodeBody made.
func (a *api) publishAll(ctx context.Context, st *publishState, b *batch) (int, error) {
	st.d.b = *b
	if cap(st.positions) < len(b.events) {
		st.positions = make([]Position, len(b.events))
	}
	st.positions = st.positions[:len(b.events)]
	return a.pub.PublishBatch(ctx, len(b.events), st.eventFn, st.doneFn)
}

func (a *api) publishFailed(w http.ResponseWriter, err error, published, total int) {
	status := publishStatus(err)
	a.log.Warn("publish failed",
		zap.Error(err), zap.Int("published", published), zap.Int("events", total), zap.Int("status", status))
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	body := publishFailedBody{Error: err.Error(), Published: published}
	if status == http.StatusGatewayTimeout {
		body.Outcome = "unknown"
	}
	_ = writeJSON(w, status, body)
}

// publishStatus maps a Publisher error to a status by the behaviours the
// Publisher documents, so the core's error types need no import here.
func publishStatus(err error) int {
	// First: a broker failure that may have published the event is also
	// Unavailable, and a 503 would invite a blind retry.
	var unknown interface{ OutcomeUnknown() bool }
	if errors.As(err, &unknown) && unknown.OutcomeUnknown() {
		return http.StatusGatewayTimeout
	}
	var invalid interface{ Invalid() bool }
	if errors.As(err, &invalid) && invalid.Invalid() {
		return http.StatusBadRequest
	}
	var unavailable interface{ Unavailable() bool }
	if errors.As(err, &unavailable) && unavailable.Unavailable() {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (a *api) stats(w http.ResponseWriter, _ *http.Request) {
	if err := writeJSON(w, http.StatusOK, a.pub.Stats()); err != nil {
		a.log.Warn("writing stats", zap.Error(err))
	}
}
