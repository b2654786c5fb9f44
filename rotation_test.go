package fanoutd

import (
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

// TestReloadRotatesWithoutAFlagDay: auth.hmac_secrets lists the new secret
// first and keeps the old one; during the overlap a client still holding a
// token of the old secret refreshes, and one of the new secret connects;
// the status page's tokens are signed with the new one. When the old
// secret is removed (or its not_after passes) its tokens are refused.
// Each reload reports the rotation in applied.
func TestReloadRotatesWithoutAFlagDay(t *testing.T) {
	r := startReloadable(t)
	mintWith := func(secret, sub string) string {
		t.Helper()
		tok, err := jwtauth.Mint([]byte(secret), sub, []string{"*"}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refresh := func(w *wsClient, tok string) string {
		t.Helper()
		w.send(`{"action":"refresh","id":"r","token":"` + tok + `"}`)
		m := w.next()
		if m["type"] == "error" {
			return m["code"].(string)
		}
		return m["type"].(string)
	}
	c := r.dial(mintWith(testSecret, "ann"))

	r.write(t, "auth:\n  hmac_secrets:\n    - secret: "+rotatedSecret+"\n    - secret: "+testSecret+"\n")
	report, err := r.srv.ReloadFromSource()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(report.Applied, "auth.hmac_secrets") {
		t.Fatalf("applied %q, want auth.hmac_secrets", report.Applied)
	}
	if got := refresh(c, mintWith(testSecret, "ann")); got != "refreshed" {
		t.Fatalf("refresh with the old secret during the overlap: %s", got)
	}
	if got := refresh(c, mintWith(rotatedSecret, "ann")); got != "refreshed" {
		t.Fatalf("refresh with the new secret: %s", got)
	}
	r.dial(mintWith(testSecret, "bob")).subscribe("news")
	r.dial(mintWith(rotatedSecret, "bob")).subscribe("news")
	onlyNew, err := jwtauth.New(jwtauth.Options{Key: []byte(rotatedSecret)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onlyNew.Verify(r.srv.statusToken(*r.srv.live.Load())); err != nil {
		t.Fatalf("the status page's token is not signed with the first secret: %v", err)
	}

	// The old secret ends on a date: past it, its tokens are refused
	// without another reload.
	r.write(t, "auth:\n  hmac_secrets:\n    - secret: "+rotatedSecret+"\n    - secret: "+testSecret+
		"\n      not_after: \""+time.Now().Add(-time.Second).UTC().Format(time.RFC3339)+"\"\n")
	if _, err := r.srv.ReloadFromSource(); err != nil {
		t.Fatal(err)
	}
	if got := refresh(c, mintWith(testSecret, "ann")); got != "unauthorized" {
		t.Fatalf("refresh with a secret past its not_after: %s, want unauthorized", got)
	}

	r.write(t, "auth:\n  hmac_secrets:\n    - secret: "+rotatedSecret+"\n")
	report, err = r.srv.ReloadFromSource()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(report.Applied, "auth.hmac_secrets") {
		t.Fatalf("applied %q, want auth.hmac_secrets", report.Applied)
	}
	if got := refresh(c, mintWith(testSecret, "ann")); got != "unauthorized" {
		t.Fatalf("refresh with the removed secret: %s, want unauthorized", got)
	}
	if got := r.dialStatus(subprotocol(mintWith(testSecret, "bob")), ""); got != http.StatusUnauthorized {
		t.Fatalf("upgrade with the removed secret: %d, want 401", got)
	}
	if got := refresh(c, mintWith(rotatedSecret, "ann")); got != "refreshed" {
		t.Fatalf("refresh with the new secret: %s", got)
	}
}

// TestReloadReportsARotatedSecretFile: the file's path does not change,
// its content does; the report still says the key was applied.
func TestReloadReportsARotatedSecretFile(t *testing.T) {
	r := startReloadable(t)
	file := t.TempDir() + "/hmac"
	writeSecret := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret(testSecret)
	r.write(t, "auth:\n  hmac_secret_file: "+file+"\n")
	if _, err := r.srv.ReloadFromSource(); err != nil {
		t.Fatal(err)
	}
	writeSecret(rotatedSecret)
	report, err := r.srv.ReloadFromSource()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.Applied, []string{"auth.hmac_secret_file"}) {
		t.Fatalf("applied %q, want auth.hmac_secret_file", report.Applied)
	}
}
