package fanoutd

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"github.com/fanoutd/fanoutd/netpoll"
	"github.com/fanoutd/fanoutd/ops"
)

// The operations surface (console, metrics, health, probe) is package ops;
// this file wires it: the Server is its Source, the configuration in
// force its Settings, and the token it hands the console is minted here
// (ops never imports config or jwtauth).

// ReadinessCheck is one condition /readyz asks about (ops.ReadinessCheck).
type ReadinessCheck = ops.ReadinessCheck

// The reserved channels of the status events and the probes.
const (
	statusChannel      = ops.StatusChannel
	probeChannelPrefix = ops.ProbeChannelPrefix
)

// newOps builds the operations surface once the node exists.
func (s *Server) newOps(o Options) *ops.Ops {
	return ops.New(ops.Options{
		Node: s.node, Source: opsSource{s}, Version: s.version, Started: s.started, Now: s.now,
		Logger: s.log, Readiness: o.ReadinessChecks,
		Settings: func() ops.Settings {
			cfg := *s.live.Load()
			return ops.Settings{Listen: cfg.Listen, Bound: s.Addr(), AllowedHosts: cfg.Status.AllowedHosts,
				WSPath: s.cfg.WSPath, Config: configSummary(cfg, s.Addr().String())}
		},
		MintStatusToken: func() string { return s.statusToken(*s.live.Load()) },
	})
}

// Probe proves that the daemon still does its work, for a service
// manager's watchdog (systemd.RunWatchdog): the transport's event loop and
// a worker answer (netpoll.Server.Probe), and an event published on a
// private channel reaches an in-process subscriber through the hub
// (ops.ProbeHub). Each probe counts in Stats as one connection (gone when
// Probe returns) and one publish. It returns the first failure, or ctx's
// error when something did not answer in time. Called from one goroutine
// at a time.
func (s *Server) Probe(ctx context.Context) error {
	if err := s.ws.Probe(ctx); err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	if err := s.ops.ProbeHub(ctx); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// opsSource adapts the Server to ops.Source.
type opsSource struct{ s *Server }

var _ ops.Source = opsSource{}

func (o opsSource) TransportStats() netpoll.Stats  { return o.s.ws.Stats() }
func (o opsSource) CloseCodesSent() map[int]uint64 { return o.s.ws.CloseCodesSent() }
func (o opsSource) WriteLatency() netpoll.Latency  { return o.s.ws.WriteLatency() }
func (o opsSource) Reloads() (applied, refused uint64) {
	return o.s.reloads[0].Load(), o.s.reloads[1].Load()
}
func (o opsSource) Serving() bool  { return o.s.serving.Load() }
func (o opsSource) Draining() bool { return o.s.draining.Load() }

func (o opsSource) Broker() (present, up bool, why string) {
	if o.s.broker == nil {
		return false, true, ""
	}
	if w, _ := o.s.broker.(interface{ NotReady() string }); w != nil {
		why = w.NotReady()
	}
	return true, o.s.BrokerUp(), why
}

// Refusals merges the upgrader's refusals with the transport's.
func (o opsSource) Refusals(t netpoll.Stats) map[string]uint64 {
	m := map[string]uint64{
		"header_too_large":  t.RejectedHeaderTooLarge,
		"not_found":         t.RejectedNotFound,
		"malformed":         t.RejectedMalformed,
		"connection_limit":  t.RejectedFull,
		"handshake_timeout": t.HandshakeTimeout,
	}
	for i, name := range reasonNames {
		m[name] = o.s.up.refused[i].Load()
	}
	m["per_ip"] += t.RejectedPerIP // refused at accept, before a request was read
	return m
}

// statusToken mints the console's token for statusChannel; "" when the
// daemon has no HMAC key (asymmetric keys only): the page then falls back
// to reloading itself.
func (s *Server) statusToken(cfg config.Config) string {
	key := s.devKey
	if k, err := cfg.HMACKey(); err == nil {
		key = k
	}
	if len(key) < jwtauth.MinKeyBytes || !allowsHMAC(cfg.Auth.Algorithms) {
		return ""
	}
	tok, err := jwtauth.Mint(key, "fanoutd-status-page", []string{statusChannel}, ops.StatusTokenTTL, s.now())
	if err != nil {
		return ""
	}
	return tok
}

// configSummary is the configuration an operator wants to see at a
// glance, without a secret, a secret's file path, or key material: those
// read "set" or "not set".
func configSummary(c config.Config, listen string) []ops.Row {
	set := func(v string) string {
		if v == "" {
			return "not set"
		}
		return "set"
	}
	list := func(v []string) string {
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ", ")
	}
	or := func(v string) string { return cmp.Or(v, "none") }
	hmac := set(c.Auth.HMACSecret + c.Auth.HMACSecretFile)
	if n := len(c.Auth.HMACSecrets); n > 0 {
		hmac = strconv.Itoa(n) + " secrets (rotation)"
	}
	if hmac == "not set" && c.Dev {
		hmac = "random (dev mode)"
	}
	d, i := func(v time.Duration) string { return v.String() }, strconv.Itoa
	l := c.Limits
	pairs := [][2]string{
		{"listen", listen}, {"ws_path", c.WSPath}, {"socket", c.Socket}, {"log_level", c.LogLevel},
		{"dev", strconv.FormatBool(c.Dev)}, {"workers", i(c.Workers)},
		{"auth.algorithms", list(c.Auth.Algorithms)}, {"auth HMAC key", hmac},
		{"auth public keys", set(c.Auth.PublicKeyFile + c.Auth.JWKSFile + c.Auth.JWKSURL)}, {"auth.audience", or(c.Auth.Audience)},
		{"auth.issuer", or(c.Auth.Issuer)}, {"auth.anonymous", strconv.FormatBool(c.Auth.Anonymous)},
		{"auth.public_channels", list(c.Auth.PublicChannels)}, {"origins", list(c.Origins)},
		{"api.key", set(c.API.Key)},
		{"heartbeat", d(c.Heartbeat.Interval) + " / " + d(c.Heartbeat.Timeout)},
		{"limits.max_connections", i(l.MaxConnections)}, {"limits.max_subscriptions", i(l.MaxSubscriptions)},
		{"limits.max_connections_per_ip / _per_user", i(l.MaxConnectionsPerIP) + " / " + i(l.MaxConnectionsPerUser)},
		{"limits.upgrade_rate", i(l.UpgradeRate)}, {"limits.commands_per_second", i(l.CommandsPerSecond)},
		{"limits.max_message_size", i(l.MaxMessageSize)}, {"limits.write_queue_bytes", i(l.WriteQueueBytes)},
		{"history", i(c.History.Size) + " events, " + d(c.History.TTL) + ", " + i(c.History.MaxBytes) + " bytes"},
		{"slow_consumer", c.SlowConsumer}, {"channels classes", i(len(c.Channels))},
		{"drain", d(c.Drain.Window) + ", close " + i(c.Drain.CloseCode) + ", reconnect after " + d(c.Drain.ReconnectAfter)},
		{"metrics", strconv.FormatBool(c.Metrics.Enabled) + " " + c.Metrics.Listen},
	}
	rows := make([]ops.Row, len(pairs))
	for i, p := range pairs {
		rows[i] = ops.Row{Name: p[0], Value: p[1]}
	}
	return rows
}
