package fanoutd

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/fanoutd/fanoutd/netpoll"
)

// The carriers a token may come in, by precedence.
const (
	carrierNone        = "none"
	carrierHeader      = "header"
	carrierSubprotocol = "subprotocol"
	carrierQuery       = "query"
	carrierCookie      = "cookie"
)

// queryTokenNames are the query parameters, compared without regard to
// case, that carry a token: "token" (ours) and "access_token" (RFC 6750
// §2.3, what OAuth client libraries send).
var queryTokenNames = []string{"token", "access_token"}

// credentialOf finds the request's credential in, by precedence, the
// Authorization header, a "bearer.<jwt>" subprotocol, the "token" query
// parameter, or the named cookie. What counts as a credential is broad on
// purpose, so that in anonymous mode nothing a client meant as one is
// mistaken for its absence:
//   - any Authorization header, whatever its scheme; the scheme "Bearer" is
//     matched without regard to case (RFC 7235 §2.1), any other scheme
//     (Basic, Digest…) is a credential this daemon cannot check;
//   - any offered subprotocol that starts with "bearer", in any case; the
//     token follows "bearer." (a subprotocol "bearer" alone, or "bearerX…",
//     is a malformed credential);
//   - any query parameter named "token" or "access_token", in any case,
//     even empty; two of them are ambiguous and refused;
//   - the configured cookie, by its exact name (cookie names are case
//     sensitive), when its value is not empty (an emptied cookie is how a
//     site logs out).
//
// bad, when not "", is why the credential is unusable before any token
// check (the 401 reason); carrier is then what held it.
func credentialOf(r *netpoll.Request, cookie string) (token, carrier, bad string) {
	if r.Auth != "" {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(r.Auth), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", carrierHeader, "unsupported Authorization scheme: use Bearer"
		}
		if token = strings.TrimSpace(rest); token == "" {
			return "", carrierHeader, "missing token"
		}
		return token, carrierHeader, ""
	}
	for _, p := range r.Protocols {
		if len(p) < len("bearer") || !strings.EqualFold(p[:len("bearer")], "bearer") {
			continue
		}
		if len(p) <= len(bearerProtocol) || p[len("bearer")] != '.' {
			return "", carrierSubprotocol, "malformed bearer subprotocol: want bearer.<token>"
		}
		return p[len(bearerProtocol):], carrierSubprotocol, ""
	}
	if token, n := queryToken(r.RawQuery); n > 0 {
		switch {
		case n > 1:
			return "", carrierQuery, "more than one token parameter"
		case token == "":
			return "", carrierQuery, "missing token"
		}
		return token, carrierQuery, ""
	}
	if cookie != "" && r.Cookie != "" {
		if c, err := http.ParseCookie(r.Cookie); err == nil {
			for _, ck := range c {
				if ck.Name == cookie && ck.Value != "" {
					return ck.Value, carrierCookie, ""
				}
			}
		}
	}
	return "", carrierNone, ""
}

// queryToken returns the value of the query's token parameter and how many
// there are. It splits the query itself: url.ParseQuery stops at the first
// malformed pair, and a token after it must still count. A name or value
// that does not unescape is taken as written.
func queryToken(raw string) (token string, n int) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		if u, err := url.QueryUnescape(name); err == nil {
			name = u
		}
		if !isTokenParam(name) {
			continue
		}
		if u, err := url.QueryUnescape(value); err == nil {
			value = u
		}
		token, n = value, n+1
	}
	return token, n
}

func isTokenParam(name string) bool {
	for _, t := range queryTokenNames {
		if strings.EqualFold(name, t) {
			return true
		}
	}
	return false
}
