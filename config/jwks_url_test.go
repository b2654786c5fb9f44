package config

import (
	"strings"
	"testing"
	"time"
)

// TestValidateJWKSURL: HTTPS only, one key source, a sane refresh, and no
// CA file without a URL.
func TestValidateJWKSURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Auth)
		want string
	}{
		{"https", func(a *Auth) { a.JWKSURL = "https://idp.example.com/jwks" }, ""},
		{"plain http", func(a *Auth) { a.JWKSURL = "http://idp.example.com/jwks" }, "auth.jwks_url: must be an https:// URL"},
		{"credentials in the URL", func(a *Auth) { a.JWKSURL = "https://u:p@idp.example.com/jwks" }, "auth.jwks_url: must be an https:// URL"},
		{"with a JWKS file", func(a *Auth) { a.JWKSURL, a.JWKSFile = "https://idp.example.com/jwks", "/k" }, "auth.jwks_url excludes"},
		{"refresh too short", func(a *Auth) { a.JWKSURL, a.JWKSRefresh = "https://idp.example.com/jwks", time.Second }, "auth.jwks_refresh: must be between 1m and 24h"},
		{"CA file alone", func(a *Auth) { a.JWKSCAFile = "/ca.pem" }, "auth.jwks_ca_file: is set but auth.jwks_url is not"},
	} {
		c := validConfig()
		c.Auth.Algorithms = []string{"HS256", "RS256"}
		tc.set(&c.Auth)
		if c.Auth.JWKSURL == "" && tc.want == "" {
			c.Auth.JWKSFile = "/k"
		}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
}
