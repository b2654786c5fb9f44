package fanoutd

import (
	"errors"
	"slices"
	"strings"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/ipc"
	"github.com/fanoutd/fanoutd/netpoll"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// restartKeys are the keys a running daemon cannot take anew: the
// listeners and their paths, the socket file, the worker pool, the flush
// delay (the transport's coalescer takes it once), dev mode,
// the heartbeat (the sweeper's period and every client's welcome derive
// from it), the connection cap (it sizes the run queue), the echo route
// (a transport path), the metrics address and the broker (the link and
// its positions are the daemon's whole state), and whether and how hard
// permessage-deflate compresses (the transport and the compressor are built
// once; compression.mode and min_bytes are channel settings and reload as
// those do). A reload reports a change
// to one of them and leaves it as it was.
var restartKeys = map[string]bool{
	"listen": true, "ws_path": true, "socket": true, "socket_mode": true, "socket_group": true,
	"workers": true, "flush_delay": true, "dev": true, "heartbeat.interval": true, "heartbeat.timeout": true,
	"limits.max_connections": true, "conformance.enabled": true, "conformance.echo_path": true,
	"metrics.listen": true, "broker.type": true, "broker.redis.address": true, "broker.redis.prefix": true,
	"broker.redis.password": true, "broker.redis.shards": true, "broker.redis.sentinel_master": true,
	"broker.redis.sentinel_addresses": true, "broker.nats.url": true, "broker.nats.prefix": true, "broker.nats.stream": true, "sse.enabled": true, "sse.path": true, "sse.heartbeat": true, "sse.max_streams": true,
	"compression.negotiate": true, "compression.level": true,
}

// tcpKeys turn on HTTP routes on the TCP listener: a reload can change
// them only if the daemon started with one of them on (servesHTTP).
var tcpKeys = []string{"api.key", "metrics.enabled", "health.enabled", "status.enabled"}

// ReloadReport says what a reload did, by configuration key (never by
// value: a key may hold a secret).
type ReloadReport struct {
	// Applied are the keys whose new values are in force. The key files
	// (auth.hmac_secret_file, public_key_file, jwks_file) are read again
	// on every reload, whether or not their paths changed.
	Applied []string `json:"applied"`
	// RestartRequired are the keys that changed but keep their old value
	// until the daemon restarts.
	RestartRequired []string `json:"restart_required"`
}

// ReloadError is a configuration a reload refused; the old one stays in
// force.
type ReloadError struct{ problems []string }

func (e *ReloadError) Error() string {
	return "configuration refused, the previous one stays in force: " + strings.Join(e.problems, "; ")
}

// Invalid marks the error as the configuration's fault (the API's 400).
func (e *ReloadError) Invalid() bool { return true }

// Problems lists what is wrong, one problem per item, each naming its key.
func (e *ReloadError) Problems() []string { return e.problems }

// errNoConfigSource is returned by ReloadFromSource without
// Options.LoadConfig.
var errNoConfigSource = errors.New("fanoutd: no configuration source to reload from (Options.LoadConfig)")

// ReloadFromSource reads the configuration again (Options.LoadConfig) and
// applies it with Reload, telling the Notifier (RELOADING=1, then READY=1
// whatever the outcome). A configuration that does not load is refused
// like an invalid one.
func (s *Server) ReloadFromSource() (ReloadReport, error) {
	if s.load == nil {
		return ReloadReport{}, errNoConfigSource
	}
	s.notifyErr("RELOADING", s.notify.Reloading())
	defer func() { s.notifyErr("READY", s.notify.Ready()) }()
	cfg, err := s.load()
	if err != nil {
		return ReloadReport{}, s.refuseReload(err)
	}
	return s.Reload(cfg)
}

// Reload applies cfg to the running daemon without dropping anyone: the
// log level, the limits that can change live, the token verifier (key
// files re-read: secret rotation), the origins, the publish API's
// settings, the drain settings, and the history and channel settings of
// channels created from now on (a channel that exists keeps its own until
// it is dropped and created again). Keys that need a restart are reported
// in RestartRequired and logged. An invalid cfg, or one whose key files do
// not read, is refused with a *ReloadError and changes nothing. Safe from
// any goroutine; reloads are serialised.
func (s *Server) Reload(cfg config.Config) (ReloadReport, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	v, jwks, err := s.checkReload(cfg)
	if err != nil {
		return ReloadReport{}, err
	}
	report := s.classify(*s.live.Load(), cfg)
	report.Applied = rotation(report.Applied, s.auth.v.Load(), v, cfg)
	// Logged before the new level applies: a reload to "warn" still says
	// what it did.
	s.log.Info("configuration reloaded", zap.Strings("applied", report.Applied),
		zap.Strings("restart_required", report.RestartRequired))
	if len(report.RestartRequired) > 0 {
		s.log.Warn("some changed settings need a restart to take effect; they keep their old values until then",
			zap.Strings("keys", report.RestartRequired))
	}
	s.apply(cfg)
	s.auth.set(v)
	if jwks != nil || cfg.Auth.JWKSURL == "" {
		s.adoptJWKS(jwks, cfg) // after the swap: the old verifier no longer asks the old set
	}
	s.live.Store(&cfg)
	s.reloads[0].Add(1)
	return report, nil
}

// checkReload validates cfg and builds its verifier, which reads the key
// files: anything wrong refuses the reload before it changed a thing.
func (s *Server) checkReload(cfg config.Config) (*jwtauth.Verifier, *jwtauth.RemoteJWKS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, s.refuseReload(err)
	}
	v, jwks, err := s.verifier(cfg, nil, s.now)
	if err != nil {
		return nil, nil, s.refuseReload(err)
	}
	return v, jwks, nil
}

// refuseReload logs why a configuration was refused and wraps it.
func (s *Server) refuseReload(err error) *ReloadError {
	s.reloads[1].Add(1)
	rerr := &ReloadError{problems: problems(err)}
	s.log.Error("reload refused; the previous configuration stays in force", zap.Strings("problems", rerr.problems))
	return rerr
}

// classify sorts the keys that differ between the configuration in force
// and next into applied and restart-required ones. A restart-only key is
// compared with the value the daemon started with, so it is reported
// again by every reload until a restart.
func (s *Server) classify(cur, next config.Config) ReloadReport {
	var r ReloadReport
	for _, k := range config.Changed(cur, next) {
		if !restartKeys[k] && !s.needsRestart(k, next) {
			r.Applied = append(r.Applied, k)
		}
	}
	for _, k := range config.Changed(s.cfg, next) {
		if restartKeys[k] || s.needsRestart(k, next) {
			r.RestartRequired = append(r.RestartRequired, k)
		}
	}
	r.Applied, r.RestartRequired = nonNil(r.Applied), nonNil(r.RestartRequired)
	return r
}

// rotation adds the HMAC key setting to applied when the keys in force
// change while the setting's text does not (a rotated secret file, read
// again on every reload), so that a rotation always shows in the report.
func rotation(applied []string, old, next *jwtauth.Verifier, cfg config.Config) []string {
	if slices.Equal(old.HMACFingerprints(), next.HMACFingerprints()) {
		return applied
	}
	key := "auth.hmac_secret"
	switch a := cfg.Auth; {
	case len(a.HMACSecrets) > 0:
		key = "auth.hmac_secrets"
	case a.HMACSecretFile != "":
		key = "auth.hmac_secret_file"
	}
	if slices.Contains(applied, key) {
		return applied
	}
	return append(applied, key)
}

// needsRestart covers the keys that are live only in some daemons: the log
// level without Options.Level, and the TCP routes of a daemon that started
// with no HTTP server on its TCP listener.
func (s *Server) needsRestart(key string, next config.Config) bool {
	switch {
	case key == "log_level":
		return s.level == nil
	case slices.Contains(tcpKeys, key):
		return s.tcp == nil && servesHTTP(next)
	}
	return false
}

// apply swaps every live setting to cfg's.
func (s *Server) apply(cfg config.Config) {
	if s.level != nil {
		if lvl, err := zapcore.ParseLevel(cfg.LogLevel); err == nil { // validated
			s.level.SetLevel(lvl)
		}
	}
	l := cfg.Limits
	s.up.limits.set(l.MaxConnectionsPerIP, l.MaxConnectionsPerUser, l.UpgradeRate)
	s.up.cur.Store(newUpgradeSettings(cfg))
	s.node.Reconfigure(nodeSettings(cfg))
	s.ws.SetLimits(netpoll.Limits{MaxMessageSize: l.MaxMessageSize, MaxFragments: l.MaxFragments,
		WriteQueueBytes: l.WriteQueueBytes, MaxHeaderBytes: l.MaxHeaderBytes, HandshakeTimeout: l.HandshakeTimeout,
		MessageTimeout: l.MessageTimeout, MaxConnsPerIP: l.MaxConnectionsPerIP})
	if s.unixH != nil {
		s.unixH.set(ipc.NewHandler(s.apiOptions(cfg)))
	}
	if s.tcpH != nil {
		s.tcpH.set(s.tcpRoutes(cfg))
	}
	if s.metricsH != nil {
		s.metricsH.set(s.metricsRoutes(cfg))
	}
}

// newUpgradeSettings is the reloadable part of the upgrade checks.
func newUpgradeSettings(cfg config.Config) *upgradeSettings {
	return &upgradeSettings{origins: newOriginPolicy(cfg.Origins), cookie: cfg.Auth.Cookie, anonymous: cfg.Auth.Anonymous}
}

// nodeSettings is the reloadable part of the core's options.
func nodeSettings(cfg config.Config) daemon.Settings {
	def, classes := channelOptions(cfg)
	l := cfg.Limits
	return daemon.Settings{
		MaxSubscriptions:   l.MaxSubscriptions,
		CommandsPerSecond:  l.CommandsPerSecond,
		MaxChannelLength:   l.MaxChannelLength,
		MaxPayloadBytes:    l.MaxPublishBytes,
		ExpiryWarning:      cfg.Auth.ExpiryWarning,
		PublicChannels:     cfg.Auth.PublicChannels,
		DefaultChannel:     def,
		ChannelClasses:     classes,
		HistoryMaxBytes:    int64(cfg.History.MaxBytes),
		IdempotencyWindow:  cfg.Idempotency.Window,
		IdempotencyMaxKeys: cfg.Idempotency.MaxKeys,
	}
}

// problems flattens a joined error (config.Load and Validate join one
// error per key) into one item per problem.
func problems(err error) []string {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range multi.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

func (s *Server) notifyErr(state string, err error) {
	if err != nil {
		s.log.Warn("sd_notify failed", zap.String("state", state), zap.Error(err))
	}
}

// reloader adapts the server to the publish API's reload route.
type reloader struct{ s *Server }

func (r reloader) Reload() (any, error) { return r.s.ReloadFromSource() }
