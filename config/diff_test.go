package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChangedNamesKeysNotValues(t *testing.T) {
	a := validConfig()
	if got := Changed(a, a); len(got) != 0 {
		t.Fatalf("Changed(a, a) = %q, want nothing", got)
	}
	b := a
	b.Auth.HMACSecret = testSecret + "-rotated"
	b.Listen = "127.0.0.1:9"
	b.Drain.Window = time.Second
	b.Origins = []string{"https://a.example"}
	got := Changed(a, b)
	want := []string{"listen", "origins", "auth.hmac_secret", "drain.window"}
	if !slices.Equal(got, want) {
		t.Fatalf("Changed = %q, want %q", got, want)
	}
	if strings.Contains(strings.Join(got, " "), testSecret) {
		t.Fatal("Changed leaks a value")
	}
}
