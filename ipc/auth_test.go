package ipc

import (
	"net/http"
	"testing"
)

func TestTCPHandlerAuth(t *testing.T) {
	const key = "s3cret-key"
	cases := []struct {
		name, path, auth string
		status           int
		body             string
	}{
		{"no header", "/v1/stats", "", 401, `{"error":"unauthorized"}`},
		{"wrong key", "/v1/stats", "Bearer nope", 401, `{"error":"unauthorized"}`},
		{"key as prefix", "/v1/stats", "Bearer s3cret", 401, `{"error":"unauthorized"}`},
		{"other scheme", "/v1/stats", "Basic " + key, 401, `{"error":"unauthorized"}`},
		{"scheme only", "/v1/stats", "Bearer ", 401, `{"error":"unauthorized"}`},
		{"unknown path before auth", "/nothing", "", 401, `{"error":"unauthorized"}`},
		{"right key", "/v1/stats", "Bearer " + key, 200, `{"sessions":3,"channels":["a"]}`},
		{"scheme is case-insensitive", "/v1/stats", "bearer " + key, 200, `{"sessions":3,"channels":["a"]}`},
		{"unknown path with key", "/nothing", "Bearer " + key, 404, `{"error":"not found"}`},
	}
	s := startTCP(t, Options{APIKey: key})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			r := s.do(t, http.MethodGet, tc.path, "", "", hdr...)
			assertStatus(t, r, tc.status)
			assertJSON(t, r.body, tc.body)
			wantChallenge := ""
			if tc.status == 401 {
				wantChallenge = "Bearer"
			}
			if got := r.header.Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
		})
	}
}

func TestTCPHandlerPublishWithKey(t *testing.T) {
	s := startTCP(t, Options{APIKey: "k"})
	r := s.do(t, http.MethodPost, "/v1/publish", "application/json",
		`{"channel":"c","type":"t"}`, "Authorization", "Bearer k")
	assertStatus(t, r, http.StatusOK)
	assertJSON(t, r.body, publishedOne)
}

func TestTCPHandlerWithoutKeyRefusesAll(t *testing.T) {
	s := startTCP(t, Options{})
	for _, auth := range []string{"", "Bearer ", "Bearer anything"} {
		r := s.do(t, http.MethodGet, "/v1/stats", "", "", "Authorization", auth)
		assertStatus(t, r, http.StatusNotFound)
		assertJSON(t, r.body, `{"error":"not found"}`)
	}
}
