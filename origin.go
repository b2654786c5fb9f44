package fanoutd

import (
	"net"
	"net/url"
	"strings"
)

// originPolicy is the exact allowlist of browser origins (config origins).
// It is checked before any token work, so a page on another site cannot
// make a visitor's browser open an authenticated WebSocket (cross-site
// WebSocket hijacking), and a flood of foreign upgrades costs no signature
// checks.
type originPolicy struct {
	allowed map[string]bool // normalized scheme://host[:port]
}

func newOriginPolicy(origins []string) originPolicy {
	p := originPolicy{allowed: make(map[string]bool, len(origins))}
	for _, o := range origins {
		if n, ok := normalizeOrigin(o); ok {
			p.allowed[n] = true
		}
	}
	return p
}

// allows reports whether a request with this Origin header may upgrade.
// An empty allowlist checks nothing. A request without Origin is not from
// a browser (browsers always send it on WebSocket upgrades) and is allowed:
// it carries its token explicitly, so it cannot ride a visitor's cookies.
// "null" (sandboxed frames, file: pages) never matches.
func (p originPolicy) allows(origin string) bool {
	if len(p.allowed) == 0 || origin == "" {
		return true
	}
	n, ok := normalizeOrigin(origin)
	return ok && p.allowed[n]
}

// empty reports whether there is no allowlist.
func (p originPolicy) empty() bool { return len(p.allowed) == 0 }

// listed reports whether origin is on the allowlist (never, without one):
// what credentialed CORS needs, where allows would let anything through.
func (p originPolicy) listed(origin string) bool {
	n, ok := normalizeOrigin(origin)
	return ok && p.allowed[n]
}

// normalizeOrigin lower-cases scheme and host and drops the scheme's
// default port, so that https://App.example.com:443 and
// https://app.example.com compare equal while any other difference (port,
// scheme, one more label) does not.
func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if host == "" {
		return "", false
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port), true
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	return scheme + "://" + host, true
}
