package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Bounds enforced by Validate. They are wide enough for any sane deployment
// and exist to catch unit mistakes (bytes vs KiB, ms vs s) before they turn
// into a daemon that times everyone out or lets one client pin gigabytes.
const (
	minTick           = 100 * time.Millisecond
	maxWorkers        = 1024
	maxFlushDelay     = 100 * time.Millisecond // a write held longer than this is a latency bug, not a saving
	minHeaderBytes    = 1 << 10
	maxHeaderBytes    = 1 << 20
	maxChannelLength  = 1024
	minMessageSize    = 128
	maxMessageSize    = 16 << 20
	maxWriteQueue     = 256 << 20 // the transport keeps a queue's counts in 32 bits
	minHMACSecretLen  = 32
	minAPIKeyLen      = 16
	permissionBits    = os.FileMode(0o777)
	otherWritableBits = os.FileMode(0o002)
)

// Validate reports every rule c breaks, joined with errors.Join, each error
// naming its key and wrapping ErrInvalidValue. Load calls it; callers that
// build a Config in code (tests, embedding) call it themselves. It does no
// I/O: auth.hmac_secret_file is read by HMACKey. Secrets are never quoted.
func (c Config) Validate() error {
	return errors.Join(c.check()...)
}

// check lists the broken rules one by one, so that Load can join them with
// its own errors into one flat list.
func (c Config) check() []error {
	var p problems
	c.validateServer(&p)
	c.Heartbeat.validate(&p)
	c.Limits.validate(&p)
	c.validateAuth(&p)
	c.validateOrigins(&p)
	c.validateChannels(&p)
	c.API.validate(&p)
	c.validateConformance(&p)
	c.validateOps(&p)
	c.validateSSE(&p)
	return p
}

func (c Config) validateServer(p *problems) {
	p.hostPort("listen", c.Listen)
	if !strings.HasPrefix(c.WSPath, "/") {
		p.add("ws_path", "must start with \"/\" (got %q)", c.WSPath)
	}
	if !validLogLevel(c.LogLevel) {
		p.add("log_level", "must be one of debug, info, warn, error (got %q)", c.LogLevel)
	}
	p.between("workers", c.Workers, 0, maxWorkers)
	if c.FlushDelay < 0 || c.FlushDelay > maxFlushDelay {
		p.add("flush_delay", "must be between 0 and %s (got %s)", maxFlushDelay, c.FlushDelay)
	}
	validateSocketMode(p, c.SocketMode)
}

// validateSocketMode refuses bits outside 0777, which mostly come from an
// unquoted decimal-looking mode, and a socket any local user could write to:
// write on the socket is the right to publish.
func validateSocketMode(p *problems, m os.FileMode) {
	switch {
	case m&^permissionBits != 0:
		p.add("socket_mode", "must be a permission mode within 0777 (got 0%03o); write it as a quoted octal string, e.g. \"0660\"", uint32(m))
	case m&otherWritableBits != 0:
		p.add("socket_mode", "must not let others write to the socket (got 0%03o)", uint32(m))
	}
}

func (h Heartbeat) validate(p *problems) {
	p.duration("heartbeat.interval", h.Interval, minTick)
	p.duration("heartbeat.timeout", h.Timeout, minTick)
}

func (l Limits) validate(p *problems) {
	p.atLeast("limits.max_connections", l.MaxConnections, 0)
	p.atLeast("limits.max_subscriptions", l.MaxSubscriptions, 1)
	p.between("limits.max_channel_length", l.MaxChannelLength, 1, maxChannelLength)
	p.between("limits.max_message_size", l.MaxMessageSize, minMessageSize, maxMessageSize)
	p.atLeast("limits.max_fragments", l.MaxFragments, 1)
	p.atLeast("limits.max_connections_per_ip", l.MaxConnectionsPerIP, 0)
	p.atLeast("limits.max_connections_per_user", l.MaxConnectionsPerUser, 0)
	p.atLeast("limits.upgrade_rate", l.UpgradeRate, 0)
	p.atLeast("limits.commands_per_second", l.CommandsPerSecond, 1)
	p.between("limits.write_queue_bytes", l.WriteQueueBytes, 1, maxWriteQueue)
	p.duration("limits.handshake_timeout", l.HandshakeTimeout, minTick)
	p.duration("limits.message_timeout", l.MessageTimeout, minTick)
	p.between("limits.max_header_bytes", l.MaxHeaderBytes, minHeaderBytes, maxHeaderBytes)
	p.atLeast("limits.max_token_bytes", l.MaxTokenBytes, 1)
	p.atLeast("limits.max_publish_bytes", l.MaxPublishBytes, 1)
}

// validateAuth keeps the daemon from starting with no key or a guessable
// one: golang-jwt verifies HS256 with an empty key, so "no secret" must be
// an explicit dev-mode choice. Each pinned algorithm needs its kind of key.
func (c Config) validateAuth(p *problems) {
	a := c.Auth
	hmacKey := a.HMACSecret != "" || a.HMACSecretFile != "" || len(a.HMACSecrets) > 0
	publicKey := a.PublicKeyFile != "" || a.JWKSFile != "" || a.JWKSURL != ""
	c.validateHMACSecrets(p)
	c.validateJWKSURL(p)
	if a.HMACSecret != "" && a.HMACSecretFile != "" {
		p.add("auth", "auth.hmac_secret and auth.hmac_secret_file are mutually exclusive")
	}
	if a.PublicKeyFile != "" && a.JWKSFile != "" {
		p.add("auth", "auth.public_key_file and auth.jwks_file are mutually exclusive")
	}
	if a.HMACSecret != "" && len(a.HMACSecret) < minHMACSecretLen {
		p.add("auth.hmac_secret", "at least %d bytes required (got %d)", minHMACSecretLen, len(a.HMACSecret))
	}
	algs := a.Algorithms
	if len(algs) == 0 {
		algs = []string{"HS256"} // the documented default
	}
	needHMAC := false
	for _, alg := range algs {
		switch {
		case !knownAlgorithms[alg]:
			p.add("auth.algorithms", "unknown algorithm %q (want HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA)", alg)
		case strings.HasPrefix(alg, "HS"):
			needHMAC = true
		case !publicKey:
			p.add("auth", "%s needs auth.public_key_file, auth.jwks_file or auth.jwks_url", alg)
		}
	}
	if needHMAC && !hmacKey && !c.Dev {
		p.add("auth", "one of auth.hmac_secret or auth.hmac_secret_file is required (or run with --dev)")
	}
	if a.Leeway < 0 || a.Leeway > maxLeeway {
		p.add("auth.leeway", "must be between 0s and %s (got %s)", maxLeeway, a.Leeway)
	}
	c.validateAccess(p)
}

// validateAccess checks the cookie carrier, anonymous access and public
// channels.
func (c Config) validateAccess(p *problems) {
	a := c.Auth
	if a.Cookie != "" && len(c.Origins) == 0 {
		p.add("auth.cookie", "needs an origins allowlist: browsers send cookies on cross-site WebSocket requests")
	}
	if a.Cookie != "" && strings.ContainsAny(a.Cookie, cookieSeparators) {
		p.add("auth.cookie", "%q is not a cookie name", a.Cookie)
	}
	if a.Anonymous && len(a.PublicChannels) == 0 {
		p.add("auth.anonymous", "needs auth.public_channels: an anonymous connection may read only those")
	}
	for _, pat := range a.PublicChannels {
		if !validPattern(pat) {
			p.add("auth.public_channels", "%q is not a channel pattern: want a channel name, optionally ending in *", pat)
		}
	}
	if a.ExpiryWarning < time.Second || a.ExpiryWarning > time.Hour {
		p.add("auth.expiry_warning", "must be between 1s and 1h (got %s)", a.ExpiryWarning)
	}
}

// cookieSeparators are the characters RFC 6265 keeps out of a cookie name.
const cookieSeparators = "()<>@,;:\\\"/[]?={} \t"

// validPattern accepts what the core's permits understands: a channel name
// or a prefix of one followed by "*". "{sub}" has no meaning here.
func validPattern(pat string) bool {
	name := strings.TrimSuffix(pat, "*")
	if pat == "*" {
		return true
	}
	if name == "" || len(name) > 1024 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.:@/=+,~!$|", r)) {
			return false
		}
	}
	return true
}

var knownAlgorithms = map[string]bool{
	"HS256": true, "HS384": true, "HS512": true, "RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "ES256": true, "ES384": true, "EdDSA": true,
}

const maxLeeway = time.Minute

// validateOrigins accepts scheme://host[:port] entries only: a path, a
// wildcard or "null" in an allowlist is a mistake that would match nothing
// or, worse, be read as matching everything.
func (c Config) validateOrigins(p *problems) {
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || strings.Contains(o, "*") {
			p.add("origins", "%q is not an origin: want scheme://host[:port] with http or https", o)
		}
	}
	for _, id := range append(append([]int(nil), c.SocketPeerUIDs...), c.SocketPeerGIDs...) {
		if id < 0 {
			p.add("socket_peer_uids", "ids must be >= 0 (got %d)", id)
		}
	}
}

func (a API) validate(p *problems) {
	if a.Key != "" && len(a.Key) < minAPIKeyLen {
		p.add("api.key", "at least %d bytes required (got %d)", minAPIKeyLen, len(a.Key))
	}
}

// validateConformance makes the unauthenticated echo route a deliberate,
// two-key choice, and keeps it off the real WebSocket path.
func (c Config) validateConformance(p *problems) {
	e := c.Conformance.EchoPath
	switch {
	case e == "":
	case !c.Conformance.Enabled:
		p.add("conformance.echo_path", "the echo route answers anyone without a token and is for conformance "+
			"test runs only; set conformance.enabled: true as well to turn it on (got %q)", e)
	case !strings.HasPrefix(e, "/"):
		p.add("conformance.echo_path", "must start with \"/\" (got %q)", e)
	case e == c.WSPath:
		p.add("conformance.echo_path", "must differ from ws_path (both are %q)", e)
	}
}

// maxDrain bounds the drain settings: beyond it a unit mistake (ms read
// as s) would hold a stopping service for hours.
const maxDrain = 10 * time.Minute

// validateOps checks the drain, metrics, health and status keys.
func (c Config) validateOps(p *problems) {
	d := c.Drain
	if d.Window < 0 || d.Window > maxDrain {
		p.add("drain.window", "must be between 0s and %s (got %s)", maxDrain, d.Window)
	}
	if d.ReconnectAfter < 0 || d.ReconnectAfter > maxDrain {
		p.add("drain.reconnect_after", "must be between 0s and %s (got %s)", maxDrain, d.ReconnectAfter)
	}
	if d.CloseCode != 1001 && d.CloseCode != 1012 {
		p.add("drain.close_code", "must be 1012 (service restart) or 1001 (going away) (got %d)", d.CloseCode)
	}
	if h := c.HandOff; h.Timeout < time.Second || h.Timeout > maxDrain {
		p.add("handoff.timeout", "must be between 1s and %s (got %s)", maxDrain, h.Timeout)
	}
	if c.HandOff.FDStoreMax < 0 {
		p.add("handoff.fdstore_max", "must be 0 or more (got %d)", c.HandOff.FDStoreMax)
	}
	if m := c.Metrics.Listen; m != "" {
		p.hostPort("metrics.listen", m)
		if !c.Metrics.Enabled {
			p.add("metrics.listen", "set metrics.enabled: true as well to serve metrics there")
		}
	}
}

// validateSSE keeps the SSE route off the other paths and its heartbeat
// between what proxies tolerate and what costs nothing.
func (c Config) validateSSE(p *problems) {
	s := c.SSE
	switch {
	case !strings.HasPrefix(s.Path, "/"):
		p.add("sse.path", "must start with \"/\" (got %q)", s.Path)
	case s.Path == c.WSPath || s.Path == c.Conformance.EchoPath:
		p.add("sse.path", "must differ from ws_path and conformance.echo_path (got %q)", s.Path)
	}
	if s.Heartbeat < time.Second || s.Heartbeat > 5*time.Minute {
		p.add("sse.heartbeat", "must be between 1s and 5m (got %s)", s.Heartbeat)
	}
	p.atLeast("sse.max_streams", s.MaxStreams, 1)
}

func validLogLevel(s string) bool {
	switch s {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// problems collects validation errors in rule order, so that output is
// stable and golden files stay comparable.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &keyError{key: key, reason: fmt.Sprintf(format, args...), kind: ErrInvalidValue})
}

// hostPort refuses an address that is not host:port with a numeric port
// within 0–65535. net.SplitHostPort alone lets "127.0.0.1:99999" through,
// and the daemon would only fail at bind time, after check-config said OK.
// Service names ("http") are refused too: the configuration documents
// numbers, and a name resolves differently from one machine to the next.
func (p *problems) hostPort(key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, "must be host:port (got %q)", addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		p.add(key, "port must be a number from 0 to 65535 (got %q)", port)
	}
}

func (p *problems) atLeast(key string, got, low int) {
	if got < low {
		p.add(key, "must be %s (got %d)", lowerBound(low), got)
	}
}

func (p *problems) between(key string, got, low, high int) {
	if got < low || got > high {
		p.add(key, "must be between %d and %d (got %d)", low, high, got)
	}
}

func (p *problems) duration(key string, got, low time.Duration) {
	switch {
	case got <= 0:
		p.add(key, "must be > 0 (got %s)", got)
	case got < low:
		p.add(key, "must be at least %s (got %s)", low, got)
	}
}

// lowerBound phrases the common bounds the way operators read them.
func lowerBound(low int) string {
	switch low {
	case 0:
		return ">= 0"
	case 1:
		return "> 0"
	}
	return fmt.Sprintf(">= %d", low)
}
