package ipc

import (
	"net/http"
	"testing"
)

// TestOpenAPIRoute: the document is served as given, as YAML; without one
// the route does not exist; other methods get the JSON 405.
func TestOpenAPIRoute(t *testing.T) {
	doc := "openapi: 3.1.0\ninfo: {title: t, version: v1}\n"
	s := startUnix(t, Options{OpenAPI: []byte(doc)})
	r := s.do(t, http.MethodGet, "/v1/openapi.yaml", "", "")
	if r.status != http.StatusOK || string(r.body) != doc || r.header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("got %d %q as %q, want the document as application/yaml", r.status, r.body, r.header.Get("Content-Type"))
	}
	r = s.do(t, http.MethodPost, "/v1/openapi.yaml", "", "")
	assertStatus(t, r, http.StatusMethodNotAllowed)
	assertJSON(t, r.body, `{"error":"method not allowed"}`)

	none := startUnix(t, Options{})
	r = none.do(t, http.MethodGet, "/v1/openapi.yaml", "", "")
	assertStatus(t, r, http.StatusNotFound)
	assertJSON(t, r.body, `{"error":"not found"}`)
}
