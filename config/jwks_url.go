package config

import (
	"net/url"
	"time"
)

// validateJWKSURL checks auth.jwks_url and its settings: HTTPS only (the
// keys decide who is who, so they must not come over a channel anyone on
// the path can rewrite), one key source at a time, a sane refresh.
func (c Config) validateJWKSURL(p *problems) {
	a := c.Auth
	if a.JWKSURL == "" {
		if a.JWKSCAFile != "" {
			p.add("auth.jwks_ca_file", "is set but auth.jwks_url is not")
		}
		return
	}
	if a.PublicKeyFile != "" || a.JWKSFile != "" {
		p.add("auth", "auth.jwks_url excludes auth.public_key_file and auth.jwks_file")
	}
	if a.JWKSRefresh < time.Minute || a.JWKSRefresh > 24*time.Hour {
		p.add("auth.jwks_refresh", "must be between 1m and 24h (got %s)", a.JWKSRefresh)
	}
	u, err := url.Parse(a.JWKSURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		p.add("auth.jwks_url", "must be an https:// URL without credentials")
	}
}
