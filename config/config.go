package config

import (
	"os"
	"time"
)

// Config is the daemon's whole configuration: a plain value, validated by Load.
// Every field maps to one configuration key (the mapstructure tag); the zero
// value of a field never means "default" here: Load fills the documented
// defaults before decoding.
type Config struct {
	// Listen is the TCP address of the WebSocket listener (and of the HTTP API
	// when API.Key is set). Key: listen. Default 127.0.0.1:8080.
	Listen string `mapstructure:"listen"`
	// WSPath is the request path that upgrades to WebSocket. Key: ws_path. Default /ws.
	WSPath string `mapstructure:"ws_path"`
	// Socket is the path of the local publish API's Unix socket. Key: socket.
	// Default ./fanoutd.sock. Empty disables the Unix socket.
	Socket string `mapstructure:"socket"`
	// SocketMode is the permission of the socket file. Key: socket_mode
	// (an octal string such as "0660"; an unquoted YAML 0660 is octal too).
	// Default 0660. Never writable by others: writing to the socket is
	// publishing.
	SocketMode os.FileMode `mapstructure:"socket_mode"`
	// LogLevel is one of debug, info, warn, error. Key: log_level. Default info.
	LogLevel string `mapstructure:"log_level"`
	// Dev turns on development mode: a random HMAC secret when none is
	// configured, and a dev token printed at start. Key: dev. Default false.
	Dev bool `mapstructure:"dev"`
	// Workers is the size of the transport's worker pool; 0 means 2 × GOMAXPROCS
	// (at least 4). Key: workers.
	Workers int `mapstructure:"workers"`
	// FlushDelay is how long a connection's published events may wait so
	// that one write carries several: a connection that was not flushed
	// within it is flushed at once; one flushed more recently waits until
	// it has passed. Replies, pings and close frames never wait. Global, not
	// per channel class: a write serves every channel of the connection.
	// 0 to 100ms; 0 flushes at once. Key: flush_delay. Default 0.
	FlushDelay time.Duration `mapstructure:"flush_delay"`
	// Origins is the allowlist of browser origins (scheme://host[:port],
	// compared exactly after lower-casing and dropping default ports) that
	// may open a WebSocket. Checked before any token work; a request with an
	// Origin outside it gets 403. Empty: Origin is not checked. A request
	// without an Origin header (not a browser) is allowed either way. Key:
	// origins (env: comma-separated).
	Origins []string `mapstructure:"origins"`
	// SocketGroup is the group (name or gid) of the socket file, so that the
	// application's group may publish. Key: socket_group. Default: unchanged.
	SocketGroup string `mapstructure:"socket_group"`
	// SocketPeerUIDs and SocketPeerGIDs, when either is set, restrict the
	// publish API on the socket to peers (SO_PEERCRED) with one of these
	// uids or gids; others get 403. Keys: socket_peer_uids, socket_peer_gids.
	SocketPeerUIDs []int `mapstructure:"socket_peer_uids"`
	SocketPeerGIDs []int `mapstructure:"socket_peer_gids"`

	// SlowConsumer is the default policy for a subscriber whose write queue
	// is full: disconnect (close 4001), drop-oldest (drop queued events and
	// send "missed"), or latest (keep only the newest event per channel).
	// Key: slow_consumer. Default disconnect.
	SlowConsumer string `mapstructure:"slow_consumer"`
	// JoinLeave sends join and leave frames to a channel's subscribers when
	// others subscribe and unsubscribe. Key: join_leave. Default false.
	JoinLeave bool `mapstructure:"join_leave"`
	// Channels override history, slow_consumer and join_leave by channel
	// name prefix (longest wins). Key: channels (env: a JSON array).
	Channels []ChannelClass `mapstructure:"channels"`

	Auth        Auth        `mapstructure:"auth"`
	Heartbeat   Heartbeat   `mapstructure:"heartbeat"`
	Limits      Limits      `mapstructure:"limits"`
	API         API         `mapstructure:"api"`
	History     History     `mapstructure:"history"`
	Idempotency Idempotency `mapstructure:"idempotency"`
	Conformance Conformance `mapstructure:"conformance"`
	Drain       Drain       `mapstructure:"drain"`
	HandOff     HandOff     `mapstructure:"handoff"`
	Metrics     Metrics     `mapstructure:"metrics"`
	Health      Health      `mapstructure:"health"`
	Status      Status      `mapstructure:"status"`
	Broker      Broker      `mapstructure:"broker"`
	SSE         SSE         `mapstructure:"sse"`
	Compression Compression `mapstructure:"compression"`
}

// Broker selects how several daemons share channels.
type Broker struct {
	// Type is memory (this daemon only), redis or nats. Key: broker.type.
	// Default memory.
	Type string `mapstructure:"type"`
	// Redis configures broker.type redis.
	Redis RedisBroker `mapstructure:"redis"`
	// NATS configures broker.type nats.
	NATS NATSBroker `mapstructure:"nats"`
}

// NATSBroker configures the NATS broker (JetStream must be enabled on the
// server). The stream keeps per channel the largest history.size of any
// channel class, for history.ttl.
type NATSBroker struct {
	// URL of the server(s), comma-separated. Key: broker.nats.url.
	// Default nats://127.0.0.1:4222.
	URL string `mapstructure:"url"`
	// Prefix starts every subject. Key: broker.nats.prefix. Default fanoutd.
	Prefix string `mapstructure:"prefix"`
	// Stream is the JetStream stream's name. Key: broker.nats.stream.
	// Default FANOUTD.
	Stream string `mapstructure:"stream"`
}

// RedisBroker configures the Redis broker.
type RedisBroker struct {
	// Address of the Redis server, host:port. Key: broker.redis.address.
	// Default 127.0.0.1:6379.
	Address string `mapstructure:"address"`
	// Prefix starts every key and pub/sub channel, so that several fanoutd
	// clusters can share one Redis. Key: broker.redis.prefix. Default fanoutd.
	Prefix string `mapstructure:"prefix"`
	// Password for AUTH; prefer the environment (FANOUTD_BROKER_REDIS_PASSWORD).
	// Key: broker.redis.password. Default "".
	Password string `mapstructure:"password"`
	// Shards, when set, spread channels over these Redis servers (host:port)
	// by rendezvous hashing instead of using Address; every node must list
	// the same ones. Key: broker.redis.shards (env: comma-separated).
	Shards []string `mapstructure:"shards"`
	// SentinelMaster, with SentinelAddresses, finds the master through Redis
	// Sentinel and follows failovers, instead of Address. Keys:
	// broker.redis.sentinel_master, broker.redis.sentinel_addresses.
	SentinelMaster    string   `mapstructure:"sentinel_master"`
	SentinelAddresses []string `mapstructure:"sentinel_addresses"`
	// Cluster, when true, treats Address as a seed node of a Redis
	// Cluster: the client finds the other nodes and follows failovers. Not
	// with Shards or Sentinel. Key: broker.redis.cluster. Default false.
	Cluster bool `mapstructure:"cluster"`
}

// History configures the events each channel keeps for recovery.
type History struct {
	// Size is how many recent events a channel keeps; 0 keeps none. Key:
	// history.size. Default 100.
	Size int `mapstructure:"size"`
	// TTL is how long an event is kept; 0 means no age limit. Key:
	// history.ttl. Default 5m.
	TTL time.Duration `mapstructure:"ttl"`
	// MaxBytes caps the memory of all history together; over it the
	// history of the channel published to least recently is dropped first.
	// Key: history.max_bytes. Default 67108864 (64 MiB).
	MaxBytes int `mapstructure:"max_bytes"`
}

// Idempotency configures publish idempotency keys.
type Idempotency struct {
	// Window is how long a key is remembered. Key: idempotency.window.
	// Default 5m.
	Window time.Duration `mapstructure:"window"`
	// MaxKeys caps the keys remembered; over it the oldest are forgotten
	// early. Key: idempotency.max_keys. Default 100000.
	MaxKeys int `mapstructure:"max_keys"`
}

// Auth configures token verification at the WebSocket handshake.
type Auth struct {
	// HMACSecret is the HS256 key. Key: auth.hmac_secret
	// (env FANOUTD_AUTH_HMAC_SECRET). At least 32 bytes.
	HMACSecret string `mapstructure:"hmac_secret"`
	// HMACSecretFile names a file holding the HS256 key (trailing newline
	// trimmed). Key: auth.hmac_secret_file. Mutually exclusive with HMACSecret.
	HMACSecretFile string `mapstructure:"hmac_secret_file"`
	// HMACSecrets are the HMAC verification secrets for a rotation
	// without a flag day, newest first: the first signs (dev tokens, the
	// status page's) and every one verifies until its not_after. Each item
	// is {secret: …} or {file: …}, with an optional not_after (RFC 3339).
	// Key: auth.hmac_secrets (env: a JSON array). Mutually exclusive with
	// hmac_secret and hmac_secret_file.
	HMACSecrets []HMACSecret `mapstructure:"hmac_secrets"`
	// Algorithms are the accepted JWT algorithms, pinned: HS256/384/512,
	// RS256/384/512, PS256, ES256/384, EdDSA. Key: auth.algorithms.
	// Default [HS256].
	Algorithms []string `mapstructure:"algorithms"`
	// PublicKeyFile is a PEM public key (RSA, ECDSA or Ed25519) for the
	// asymmetric algorithms. Key: auth.public_key_file.
	PublicKeyFile string `mapstructure:"public_key_file"`
	// JWKSFile is a JSON Web Key Set; keys are chosen by the token's kid and
	// re-read when the file changes. Key: auth.jwks_file.
	JWKSFile string `mapstructure:"jwks_file"`
	// JWKSURL is an identity provider's JSON Web Key Set, fetched over
	// HTTPS at start, every JWKSRefresh, and (at most once per
	// JWKSRefresh/10, at least 10s) when a token names an unknown kid. A
	// failed fetch keeps the last good keys. Key: auth.jwks_url. Exclusive
	// with public_key_file and jwks_file.
	JWKSURL string `mapstructure:"jwks_url"`
	// JWKSRefresh is how often jwks_url is fetched again, 1m to 24h. Key:
	// auth.jwks_refresh. Default 15m.
	JWKSRefresh time.Duration `mapstructure:"jwks_refresh"`
	// JWKSCAFile is a PEM file of CA certificates trusted, besides the
	// system's, for jwks_url's TLS certificate (a private CA). Key:
	// auth.jwks_ca_file. Default "".
	JWKSCAFile string `mapstructure:"jwks_ca_file"`
	// Audience, when set, must be in the token's aud. Key: auth.audience.
	Audience string `mapstructure:"audience"`
	// Issuer, when set, must equal the token's iss. Key: auth.issuer.
	Issuer string `mapstructure:"issuer"`
	// Leeway tolerated on exp/nbf/iat for clock skew, at most 60s.
	// Key: auth.leeway. Default 0s.
	Leeway time.Duration `mapstructure:"leeway"`
	// Cookie names a cookie that may carry the token, after the
	// Authorization header, the bearer subprotocol and the query. Browsers
	// send cookies on cross-site WebSocket requests, so it needs Origins
	// set, and a cookie-borne token is refused without an Origin header.
	// Key: auth.cookie. Default "" (off).
	Cookie string `mapstructure:"cookie"`
	// Anonymous lets a request without any token connect, with access to
	// PublicChannels only. A token that is present must still be valid.
	// Key: auth.anonymous. Default false.
	Anonymous bool `mapstructure:"anonymous"`
	// PublicChannels are channel patterns (exact or "prefix*") that any
	// connection may subscribe to, anonymous or not. Key:
	// auth.public_channels (env: comma-separated). Default none.
	PublicChannels []string `mapstructure:"public_channels"`
	// ExpiryWarning is how long before its token expires a connection is
	// sent the "expiring" frame, its cue to refresh. Key:
	// auth.expiry_warning, 1s to 1h. Default 60s.
	ExpiryWarning time.Duration `mapstructure:"expiry_warning"`
}

// Heartbeat configures server pings.
type Heartbeat struct {
	// Interval between server pings. Key: heartbeat.interval. Default 30s.
	Interval time.Duration `mapstructure:"interval"`
	// Timeout: a connection silent this long after a ping is closed.
	// Key: heartbeat.timeout. Default 10s.
	Timeout time.Duration `mapstructure:"timeout"`
}

// Limits bound what one client or publisher may cost.
type Limits struct {
	// MaxConnections caps WebSocket connections; 0 means derived from the open
	// file limit. Key: limits.max_connections.
	MaxConnections int `mapstructure:"max_connections"`
	// MaxConnectionsPerIP caps connections from one client address; over
	// it: 429. 0 means no cap (the default: behind a load balancer every
	// connection shares its address). Key: limits.max_connections_per_ip.
	MaxConnectionsPerIP int `mapstructure:"max_connections_per_ip"`
	// MaxConnectionsPerUser caps connections per token subject; over it:
	// 429. 0 means no cap. Key: limits.max_connections_per_user.
	MaxConnectionsPerUser int `mapstructure:"max_connections_per_user"`
	// UpgradeRate caps new WebSocket upgrades per second across the daemon
	// (burst: one second's worth); over it: 503 with Retry-After. 0 means
	// no cap. Key: limits.upgrade_rate.
	UpgradeRate int `mapstructure:"upgrade_rate"`
	// CommandsPerSecond caps client commands per connection (burst: twice
	// that); over it a command is answered with error "rate_limited".
	// Key: limits.commands_per_second. Default 50.
	CommandsPerSecond int `mapstructure:"commands_per_second"`
	// MaxSubscriptions per connection. Key: limits.max_subscriptions. Default 128.
	MaxSubscriptions int `mapstructure:"max_subscriptions"`
	// MaxChannelLength in bytes. Key: limits.max_channel_length. Default 255.
	MaxChannelLength int `mapstructure:"max_channel_length"`
	// MaxMessageSize is the largest inbound client message in bytes.
	// Key: limits.max_message_size. Default 65536.
	MaxMessageSize int `mapstructure:"max_message_size"`
	// MaxFragments per inbound message. Key: limits.max_fragments. Default 64.
	MaxFragments int `mapstructure:"max_fragments"`
	// WriteQueueBytes bounds the bytes queued for one connection; a client over
	// it is closed with 4001. Key: limits.write_queue_bytes. Default 1048576; at most 256 MiB.
	WriteQueueBytes int `mapstructure:"write_queue_bytes"`
	// HandshakeTimeout bounds the whole upgrade. Key: limits.handshake_timeout. Default 5s.
	HandshakeTimeout time.Duration `mapstructure:"handshake_timeout"`
	// MessageTimeout bounds how long one inbound message may take to arrive
	// whole (a frame still arriving, or a fragmented message without its
	// last frame); past it the connection is closed with 1008.
	// Key: limits.message_timeout. Default 10s.
	MessageTimeout time.Duration `mapstructure:"message_timeout"`
	// MaxHeaderBytes caps the handshake request head. Key: limits.max_header_bytes. Default 16384.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// MaxTokenBytes: longer tokens are refused before parsing. Key: limits.max_token_bytes. Default 4096.
	MaxTokenBytes int `mapstructure:"max_token_bytes"`
	// MaxPublishBytes caps a publish request body. Key: limits.max_publish_bytes. Default 1048576.
	MaxPublishBytes int `mapstructure:"max_publish_bytes"`
}

// API configures the publish API on the TCP listener.
type API struct {
	// Key enables the HTTP API on Listen, behind "Authorization: Bearer <key>".
	// Key: api.key (env FANOUTD_API_KEY). Empty: the API is served on the Unix
	// socket only. At least 16 bytes when set.
	Key string `mapstructure:"key"`
}

// Conformance configures the echo route that external WebSocket conformance
// suites (the Autobahn|Testsuite fuzzing client and its descendants) drive
// to exercise the real transport. The route answers anyone, without a
// token: it takes two keys to turn on, so that no production config gets it
// by accident (Validate refuses an echo path without enabled).
type Conformance struct {
	// Enabled must be true for EchoPath to be accepted. Key:
	// conformance.enabled. Default false.
	Enabled bool `mapstructure:"enabled"`
	// EchoPath is the request path that upgrades, without a token or a
	// subprotocol, to a session that sends every data message back with its
	// opcode. Key: conformance.echo_path. Default "" (no echo route).
	EchoPath string `mapstructure:"echo_path"`
}

// Drain configures how a stopping daemon lets its clients go (SIGTERM,
// Server.Shutdown): the listeners close first, publishes already accepted
// are delivered, then the WebSockets are closed over Window, each with
// CloseCode and a reconnect hint, so that thousands of clients do not
// reconnect in the same second. Every key applies on reload.
type Drain struct {
	// Window spreads the closes, with jitter; with few clients it is
	// shorter (never slower than 1,000 closes a second). 0 closes every
	// connection at once. At most 10m. Key: drain.window. Default 10s.
	Window time.Duration `mapstructure:"window"`
	// CloseCode is 1001 (going away: the daemon stops) or 1012 (service
	// restart: come back soon). A service manager sends the same SIGTERM
	// for a restart and a stop, so the daemon cannot tell them apart: the
	// configuration says which is the rule. The shipped service
	// configuration says 1012 (under systemd most stops are restarts);
	// set 1001 there, and reload, before taking a host away for good.
	// Key: drain.close_code. Default 1001.
	CloseCode int `mapstructure:"close_code"`
	// ReconnectAfter is the hint in the close reason,
	// {"reconnect_after_ms":N}: N is this plus a jitter of up to as much
	// again, per connection. At most 10m. Key: drain.reconnect_after.
	// Default 1s.
	ReconnectAfter time.Duration `mapstructure:"reconnect_after"`
}

// HandOff configures restarts and upgrades that keep every client: the old
// process hands its listeners, every WebSocket's descriptor and the state
// behind them to the new one (README: "Upgrades and restarts that keep
// every client"). When a hand-off is not possible, the daemon drains as
// Drain says. Every key applies on reload.
type HandOff struct {
	// Enabled allows hand-offs: `fanoutd upgrade` (SIGUSR2) and, under
	// systemd with a file-descriptor store, SIGTERM. Off, both drain.
	// Key: handoff.enabled. Default true.
	Enabled bool `mapstructure:"enabled"`
	// Timeout bounds the new process's start: from its launch until it
	// has taken every connection over. Past it the old process carries on
	// serving everyone. 1s to 10m. Key: handoff.timeout. Default 30s.
	Timeout time.Duration `mapstructure:"timeout"`
	// FDStoreMax is the unit's FileDescriptorStoreMax=, for systemd
	// before 254, which does not tell the service ($FDSTORE). With either
	// known and large enough for every connection, SIGTERM stores the
	// descriptors in the service manager for the next start instead of
	// draining; 0 with no $FDSTORE drains. Key: handoff.fdstore_max.
	// Default 0.
	FDStoreMax int `mapstructure:"fdstore_max"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Enabled serves /metrics: on the TCP listener, or on Listen when set.
	// Key: metrics.enabled. Default false.
	Enabled bool `mapstructure:"enabled"`
	// Listen is a host:port of its own for /metrics (with /healthz and
	// /readyz), so that the WebSocket port need not expose it. Needs
	// Enabled. Key: metrics.listen. Default "" (the TCP listener).
	Listen string `mapstructure:"listen"`
}

// Health configures the liveness and readiness endpoints.
type Health struct {
	// Enabled serves /healthz (the process answers: 200) and /readyz (the
	// listeners are bound and served: 200, else 503) on the TCP listener.
	// Key: health.enabled. Default true.
	Enabled bool `mapstructure:"enabled"`
}

// Status configures the status page.
type Status struct {
	// Enabled serves a small HTML page at / on the TCP listener: version,
	// uptime, connections, channels, publish and delivery rates, and the
	// configuration without secrets. Key: status.enabled. Default false.
	Enabled bool `mapstructure:"enabled"`
	// AllowedHosts are the names, besides the listener's own, that the
	// page answers under: the page hands out a token, so a request whose
	// Host header is not the listen address's host, an IP literal that
	// reaches it (loopback names for a loopback or wildcard listener) or
	// one of these is refused 421, which defeats DNS rebinding. Names,
	// without port, compared without regard to case. Key:
	// status.allowed_hosts. Default none.
	AllowedHosts []string `mapstructure:"allowed_hosts"`
}

// SSE configures the Server-Sent Events route on the TCP listener: the
// same events as the WebSocket route, for clients behind proxies that
// refuse WebSocket upgrades. It takes the same tokens, Origin allowlist,
// channel permissions and connection limits.
type SSE struct {
	// Enabled serves Path. Key: sse.enabled. Default true.
	Enabled bool `mapstructure:"enabled"`
	// Path is the request path of the event stream. Key: sse.path. Default
	// /sse; must start with "/" and differ from ws_path and
	// conformance.echo_path.
	Path string `mapstructure:"path"`
	// Heartbeat is the period of the comment line sent on an idle stream,
	// so that proxies keep it open and clients can tell it is alive. Key:
	// sse.heartbeat, 1s to 5m. Default 15s.
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	// MaxStreams caps the streams open at once (each holds a goroutine);
	// over it: 503. Key: sse.max_streams. Default 1000.
	MaxStreams int `mapstructure:"max_streams"`
}

// Compression configures permessage-deflate (RFC 7692) on the WebSocket
// routes. The daemon compresses an event once, for every subscriber that
// negotiated it, never per connection (see netpoll's deflate.go); the
// defaults suit dashboards: their small ticks go out as they are, their
// snapshots and lists (the bytes that matter) go out compressed.
type Compression struct {
	// Negotiate accepts the permessage-deflate offers of clients (every
	// browser makes one). Key: compression.negotiate. Default true.
	Negotiate bool `mapstructure:"negotiate"`
	// Mode is what channels do by default: off (send events as they are),
	// on (compress every event), or auto (compress events whose frame is
	// at least MinBytes). Key: compression.mode. Default auto; channels
	// override it per prefix.
	Mode string `mapstructure:"mode"`
	// MinBytes is auto's threshold. Deflate saves nothing on a 40-byte
	// event (the frame may even grow) and costs the browser an inflate per
	// message. Key: compression.min_bytes, 1 to 1 MiB. Default 512.
	MinBytes int `mapstructure:"min_bytes"`
	// Level is the flate level, 1 (fastest) to 9 (smallest). Each event is
	// compressed once under its channel's lock, so the level is paid once
	// per event, not per subscriber; 1 gets most of the gain on JSON. Key:
	// compression.level. Default 1.
	Level int `mapstructure:"level"`
}

// CompressionModes are the values of compression.mode and of a channel
// class's compression.
var CompressionModes = []string{"off", "on", "auto"}
