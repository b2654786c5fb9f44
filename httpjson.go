package fanoutd

import (
	"encoding/json"
	"net/http"
)

// writeJSON answers with v as JSON; a client gone mid-answer has nobody
// to tell.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
