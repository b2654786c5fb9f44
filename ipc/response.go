package ipc

import (
	"encoding/json"
	"net/http"
)

// InvalidEvent names one rejected event of a publish request: Index is its
// 0-based position in the request (array element, NDJSON non-blank line, or
// 0 for a single object) and Reason says why. The server lists every
// rejected event in a 400 response; Client returns them in APIError.Events.
type InvalidEvent struct {
	Index  int    `json:"index"`
	Reason string `json:"error"`
}

// The response bodies, one type per shape so the wire format is visible in
// one place. Every error body has an "error" member.
type (
	errorBody struct {
		Error string `json:"error"`
	}
	tooLargeBody struct {
		Error string `json:"error"`
		Limit int64  `json:"limit"`
	}
	malformedBody struct {
		Error  string `json:"error"`
		Index  int    `json:"index"`
		Detail string `json:"detail"`
	}
	invalidBody struct {
		Error  string         `json:"error"`
		Events []InvalidEvent `json:"events"`
	}
	publishedBody struct {
		Published int        `json:"published"`
		Positions []Position `json:"positions,omitempty"`
	}
	publishFailedBody struct {
		Error     string `json:"error"`
		Published int    `json:"published"`
		// Outcome is "unknown" on a 504: the event at index published
		// may or may not have gone out.
		Outcome string `json:"outcome,omitempty"`
	}
)

// writeJSON sends v with status. A value that cannot be encoded becomes a
// 500 so the client never receives a half-written body.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"response not encodable"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, werr := w.Write(append(body, '\n')); werr != nil && err == nil {
		err = werr
	}
	return err
}

// The header values of every JSON answer, shared so that writeBody sets
// them without allocating; net/http only reads them.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
	// ndjsonContentType is the publish stream's answer type.
	ndjsonContentType = []string{"application/x-ndjson"}
)

// writeBody sends an already encoded JSON body (ending in a newline).
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	_, _ = w.Write(body) // a write error means the client went away
}

func writeError(w http.ResponseWriter, status int, msg string) {
	// A write error means the client went away; there is nobody to tell.
	_ = writeJSON(w, status, errorBody{Error: msg})
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "not found")
}

// methodNotAllowed answers a known path with the wrong method; the mux's own
// 405 has a text body, and every error here is JSON.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}
