package ipc

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

func (a *api) channels(w http.ResponseWriter, _ *http.Request) {
	_ = writeJSON(w, http.StatusOK, struct {
		Channels any `json:"channels"`
	}{a.dir.Channels()})
}

func (a *api) presence(w http.ResponseWriter, r *http.Request) {
	ch := r.PathValue("channel")
	_ = writeJSON(w, http.StatusOK, struct {
		Channel string `json:"channel"`
		Clients any    `json:"clients"`
	}{ch, a.dir.Presence(ch)})
}

// events streams connection events as NDJSON: GET
// /v1/events?after=<seq>&epoch=<epoch>, both from the last line the app
// handled; without them, every event still kept. Each line is flushed as it
// is written, and the server's write timeout does not apply to the stream.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after must be a sequence number")
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	err := a.dir.StreamConnEvents(r.Context(), after, q.Get("epoch"), func(line []byte) error {
		if _, err := w.Write(line); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err != nil && !errors.Is(err, r.Context().Err()) {
		a.log.Debug("event stream ended", zap.Error(err))
	}
}
