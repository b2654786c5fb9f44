package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// validateCases mutate a valid Config; want is the exact error, "" for a
// value that must be accepted (the boundaries).
var validateCases = []struct {
	name   string
	mutate func(*Config)
	want   string
}{
	{"valid", func(*Config) {}, ""},
	{"drain.window negative", func(c *Config) { c.Drain.Window = -time.Second }, "drain.window: must be between 0s and 10m0s (got -1s)"},
	{"drain.window zero", func(c *Config) { c.Drain.Window = 0 }, ""},
	{"drain.window too long", func(c *Config) { c.Drain.Window = 11 * time.Minute }, "drain.window: must be between 0s and 10m0s (got 11m0s)"},
	{"drain.reconnect_after negative", func(c *Config) { c.Drain.ReconnectAfter = -1 }, "drain.reconnect_after: must be between 0s and 10m0s (got -1ns)"},
	{"handoff.timeout too short", func(c *Config) { c.HandOff.Timeout = 0 }, "handoff.timeout: must be between 1s and 10m0s (got 0s)"},
	{"handoff.fdstore_max negative", func(c *Config) { c.HandOff.FDStoreMax = -1 }, "handoff.fdstore_max: must be 0 or more (got -1)"},
	{"drain.close_code 1001", func(c *Config) { c.Drain.CloseCode = 1001 }, ""},
	{"drain.close_code 1000", func(c *Config) { c.Drain.CloseCode = 1000 }, "drain.close_code: must be 1012 (service restart) or 1001 (going away) (got 1000)"},
	{"metrics.listen without enabled", func(c *Config) { c.Metrics.Listen = "127.0.0.1:9090" }, "metrics.listen: set metrics.enabled: true as well to serve metrics there"},
	{"metrics.listen bad", func(c *Config) { c.Metrics = Metrics{Enabled: true, Listen: "9090"} }, `metrics.listen: must be host:port (got "9090")`},
	{"metrics.listen", func(c *Config) { c.Metrics = Metrics{Enabled: true, Listen: "127.0.0.1:9090"} }, ""},
	{"origins exact", func(c *Config) { c.Origins = []string{"https://app.example.com", "http://localhost:5173"} }, ""},
	{"origin with path", func(c *Config) { c.Origins = []string{"https://app.example.com/x"} }, `origins: "https://app.example.com/x" is not an origin: want scheme://host[:port] with http or https`},
	{"origin wildcard", func(c *Config) { c.Origins = []string{"https://*.example.com"} }, `origins: "https://*.example.com" is not an origin: want scheme://host[:port] with http or https`},
	{"origin null", func(c *Config) { c.Origins = []string{"null"} }, `origins: "null" is not an origin: want scheme://host[:port] with http or https`},
	{"origin other scheme", func(c *Config) { c.Origins = []string{"ftp://example.com"} }, `origins: "ftp://example.com" is not an origin: want scheme://host[:port] with http or https`},
	{"algorithm unknown", func(c *Config) { c.Auth.Algorithms = []string{"none"} }, `auth.algorithms: unknown algorithm "none" (want HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA)`},
	{"RS256 without a public key", func(c *Config) { c.Auth.Algorithms = []string{"RS256"} }, "auth: RS256 needs auth.public_key_file, auth.jwks_file or auth.jwks_url"},
	{"RS256 with a JWKS", func(c *Config) { c.Auth.Algorithms = []string{"RS256"}; c.Auth.JWKSFile = "/etc/jwks.json" }, ""},
	{"leeway over a minute", func(c *Config) { c.Auth.Leeway = 61 * time.Second }, "auth.leeway: must be between 0s and 1m0s (got 1m1s)"},
	{"leeway a minute", func(c *Config) { c.Auth.Leeway = time.Minute }, ""},
	{"negative peer uid", func(c *Config) { c.SocketPeerUIDs = []int{-1} }, "socket_peer_uids: ids must be >= 0 (got -1)"},
	{"listen without port", func(c *Config) { c.Listen = "localhost" }, `listen: must be host:port (got "localhost")`},
	{"listen empty", func(c *Config) { c.Listen = "" }, `listen: must be host:port (got "")`},
	{"listen all interfaces", func(c *Config) { c.Listen = ":8080" }, ""},
	{"listen IPv6", func(c *Config) { c.Listen = "[::1]:8080" }, ""},
	{"ws_path relative", func(c *Config) { c.WSPath = "ws" }, `ws_path: must start with "/" (got "ws")`},
	{"ws_path empty", func(c *Config) { c.WSPath = "" }, `ws_path: must start with "/" (got "")`},
	{"log_level unknown", func(c *Config) { c.LogLevel = "trace" }, `log_level: must be one of debug, info, warn, error (got "trace")`},
	{"log_level is case-sensitive", func(c *Config) { c.LogLevel = "INFO" }, `log_level: must be one of debug, info, warn, error (got "INFO")`},
	{"log_level debug", func(c *Config) { c.LogLevel = "debug" }, ""},
	{"log_level warn", func(c *Config) { c.LogLevel = "warn" }, ""},
	{"log_level error", func(c *Config) { c.LogLevel = "error" }, ""},
	{"workers negative", func(c *Config) { c.Workers = -1 }, "workers: must be between 0 and 1024 (got -1)"},
	{"workers too many", func(c *Config) { c.Workers = 1025 }, "workers: must be between 0 and 1024 (got 1025)"},
	{"workers max", func(c *Config) { c.Workers = 1024 }, ""},
	{"flush_delay negative", func(c *Config) { c.FlushDelay = -time.Millisecond }, "flush_delay: must be between 0 and 100ms (got -1ms)"},
	{"flush_delay too long", func(c *Config) { c.FlushDelay = 101 * time.Millisecond }, "flush_delay: must be between 0 and 100ms (got 101ms)"},
	{"flush_delay max", func(c *Config) { c.FlushDelay = 100 * time.Millisecond }, ""},
	{"socket_mode other-writable", func(c *Config) { c.SocketMode = 0o662 }, "socket_mode: must not let others write to the socket (got 0662)"},
	{"socket_mode world", func(c *Config) { c.SocketMode = 0o777 }, "socket_mode: must not let others write to the socket (got 0777)"},
	{"socket_mode not a permission", func(c *Config) { c.SocketMode = 0o1660 }, `socket_mode: must be a permission mode within 0777 (got 01660); write it as a quoted octal string, e.g. "0660"`},
	{"socket_mode type bits", func(c *Config) { c.SocketMode = os.ModeSocket | 0o660 }, `socket_mode: must be a permission mode within 0777 (got 0100000660); write it as a quoted octal string, e.g. "0660"`},
	{"socket_mode owner only", func(c *Config) { c.SocketMode = 0o600 }, ""},
	{"socket_mode others read", func(c *Config) { c.SocketMode = 0o664 }, ""},
	{"heartbeat.interval zero", func(c *Config) { c.Heartbeat.Interval = 0 }, "heartbeat.interval: must be > 0 (got 0s)"},
	{"heartbeat.interval short", func(c *Config) { c.Heartbeat.Interval = 99 * time.Millisecond }, "heartbeat.interval: must be at least 100ms (got 99ms)"},
	{"heartbeat.interval min", func(c *Config) { c.Heartbeat.Interval = 100 * time.Millisecond }, ""},
	{"heartbeat.timeout zero", func(c *Config) { c.Heartbeat.Timeout = 0 }, "heartbeat.timeout: must be > 0 (got 0s)"},
	{"heartbeat.timeout negative", func(c *Config) { c.Heartbeat.Timeout = -time.Second }, "heartbeat.timeout: must be > 0 (got -1s)"},
	{"heartbeat.timeout short", func(c *Config) { c.Heartbeat.Timeout = time.Millisecond }, "heartbeat.timeout: must be at least 100ms (got 1ms)"},
	{"max_connections negative", func(c *Config) { c.Limits.MaxConnections = -1 }, "limits.max_connections: must be >= 0 (got -1)"},
	{"max_connections zero", func(c *Config) { c.Limits.MaxConnections = 0 }, ""},
	{"max_subscriptions zero", func(c *Config) { c.Limits.MaxSubscriptions = 0 }, "limits.max_subscriptions: must be > 0 (got 0)"},
	{"max_channel_length zero", func(c *Config) { c.Limits.MaxChannelLength = 0 }, "limits.max_channel_length: must be between 1 and 1024 (got 0)"},
	{"max_channel_length too long", func(c *Config) { c.Limits.MaxChannelLength = 1025 }, "limits.max_channel_length: must be between 1 and 1024 (got 1025)"},
	{"max_channel_length max", func(c *Config) { c.Limits.MaxChannelLength = 1024 }, ""},
	{"max_message_size small", func(c *Config) { c.Limits.MaxMessageSize = 127 }, "limits.max_message_size: must be between 128 and 16777216 (got 127)"},
	{"max_message_size big", func(c *Config) { c.Limits.MaxMessageSize = 16<<20 + 1 }, "limits.max_message_size: must be between 128 and 16777216 (got 16777217)"},
	{"max_message_size bounds", func(c *Config) { c.Limits.MaxMessageSize = 128 }, ""},
	{"write_queue_bytes big", func(c *Config) { c.Limits.WriteQueueBytes = 256<<20 + 1 }, "limits.write_queue_bytes: must be between 1 and 268435456 (got 268435457)"},
	{"write_queue_bytes bounds", func(c *Config) { c.Limits.WriteQueueBytes = 256 << 20 }, ""},
	{"max_fragments zero", func(c *Config) { c.Limits.MaxFragments = 0 }, "limits.max_fragments: must be > 0 (got 0)"},
	{"write_queue_bytes zero", func(c *Config) { c.Limits.WriteQueueBytes = 0 }, "limits.write_queue_bytes: must be between 1 and 268435456 (got 0)"},
	{"handshake_timeout zero", func(c *Config) { c.Limits.HandshakeTimeout = 0 }, "limits.handshake_timeout: must be > 0 (got 0s)"},
	{"handshake_timeout short", func(c *Config) { c.Limits.HandshakeTimeout = 50 * time.Millisecond }, "limits.handshake_timeout: must be at least 100ms (got 50ms)"},
	{"max_header_bytes small", func(c *Config) { c.Limits.MaxHeaderBytes = 1023 }, "limits.max_header_bytes: must be between 1024 and 1048576 (got 1023)"},
	{"max_header_bytes big", func(c *Config) { c.Limits.MaxHeaderBytes = 1<<20 + 1 }, "limits.max_header_bytes: must be between 1024 and 1048576 (got 1048577)"},
	{"max_header_bytes bounds", func(c *Config) { c.Limits.MaxHeaderBytes = 1 << 20 }, ""},
	{"max_token_bytes zero", func(c *Config) { c.Limits.MaxTokenBytes = 0 }, "limits.max_token_bytes: must be > 0 (got 0)"},
	{"max_publish_bytes negative", func(c *Config) { c.Limits.MaxPublishBytes = -5 }, "limits.max_publish_bytes: must be > 0 (got -5)"},
	{"auth both", func(c *Config) { c.Auth.HMACSecretFile = "/k" }, "auth: auth.hmac_secret and auth.hmac_secret_file are mutually exclusive"},
	{"auth none", func(c *Config) { c.Auth.HMACSecret = "" }, "auth: one of auth.hmac_secret or auth.hmac_secret_file is required (or run with --dev)"},
	{"auth none in dev", func(c *Config) { c.Auth.HMACSecret, c.Dev = "", true }, ""},
	{"auth file only", func(c *Config) { c.Auth = Auth{HMACSecretFile: "/k", ExpiryWarning: time.Minute} }, ""},
	{"cookie without origins", func(c *Config) { c.Auth.Cookie = "tok" }, "auth.cookie: needs an origins allowlist: browsers send cookies on cross-site WebSocket requests"},
	{"cookie with origins", func(c *Config) { c.Auth.Cookie = "tok"; c.Origins = []string{"https://app.example.com"} }, ""},
	{"cookie name with a separator", func(c *Config) { c.Auth.Cookie = "a;b"; c.Origins = []string{"https://a.example"} }, `auth.cookie: "a;b" is not a cookie name`},
	{"anonymous without public channels", func(c *Config) { c.Auth.Anonymous = true }, "auth.anonymous: needs auth.public_channels: an anonymous connection may read only those"},
	{"anonymous with public channels", func(c *Config) { c.Auth.Anonymous = true; c.Auth.PublicChannels = []string{"status:*", "news"} }, ""},
	{"public channel with {sub}", func(c *Config) { c.Auth.PublicChannels = []string{"user:{sub}"} }, `auth.public_channels: "user:{sub}" is not a channel pattern: want a channel name, optionally ending in *`},
	{"public channel star in the middle", func(c *Config) { c.Auth.PublicChannels = []string{"a*b"} }, `auth.public_channels: "a*b" is not a channel pattern: want a channel name, optionally ending in *`},
	{"slow consumer unknown", func(c *Config) { c.SlowConsumer = "ignore" }, `slow_consumer: must be one of disconnect, drop-oldest, latest (got "ignore")`},
	{"history size negative", func(c *Config) { c.History.Size = -1 }, "history.size: must be between 0 and 100000 (got -1)"},
	{"history max bytes small", func(c *Config) { c.History.MaxBytes = 1000 }, "history.max_bytes: must be at least 1 MiB (got 1000)"},
	{"channel class without prefix", func(c *Config) { c.Channels = []ChannelClass{{SlowConsumer: "latest"}} }, "channels[0]: prefix is required"},
	{"channel class twice", func(c *Config) { c.Channels = []ChannelClass{{Prefix: "a:"}, {Prefix: "a:"}} }, `channels[1]: prefix "a:" is listed twice`},
	{"compression.mode unknown", func(c *Config) { c.Compression.Mode = "gzip" }, `compression.mode: must be one of off, on, auto (got "gzip")`},
	{"compression.mode off", func(c *Config) { c.Compression.Mode = "off" }, ""},
	{"compression.min_bytes zero", func(c *Config) { c.Compression.MinBytes = 0 }, "compression.min_bytes: must be between 1 and 1048576 (got 0)"},
	{"compression.level 0", func(c *Config) { c.Compression.Level = 0 }, "compression.level: must be between 1 and 9 (got 0)"},
	{"compression.level 9", func(c *Config) { c.Compression.Level = 9 }, ""},
	{"channel class bad compression", func(c *Config) { c.Channels = []ChannelClass{{Prefix: "a:", Compression: "yes"}} }, `channels[0]: compression must be one of off, on, auto (got "yes")`},
	{"channel class bad compression_min_bytes", func(c *Config) { z := -1; c.Channels = []ChannelClass{{Prefix: "a:", CompressionMinBytes: &z}} }, "channels[0]: compression_min_bytes must be between 1 and 1048576 (got -1)"},
	{"channel class bad policy", func(c *Config) { c.Channels = []ChannelClass{{Prefix: "a:", SlowConsumer: "x"}} }, `channels[0]: slow_consumer must be one of disconnect, drop-oldest, latest (got "x")`},
	{"broker unknown", func(c *Config) { c.Broker.Type = "kafka" }, `broker.type: must be memory, redis or nats (got "kafka")`},
	{"redis broker", func(c *Config) { c.Broker.Type = "redis" }, ""},
	{"nats broker", func(c *Config) { c.Broker.Type = "nats" }, ""},
	{"redis broker bad address", func(c *Config) { c.Broker.Type, c.Broker.Redis.Address = "redis", "localhost" }, `broker.redis.address: must be host:port (got "localhost")`},
	{"idempotency window zero", func(c *Config) { c.Idempotency.Window = 0 }, "idempotency.window: must be between 1s and 24h (got 0s)"},
	{"expiry warning zero", func(c *Config) { c.Auth.ExpiryWarning = 0 }, "auth.expiry_warning: must be between 1s and 1h (got 0s)"},
	{"expiry warning two hours", func(c *Config) { c.Auth.ExpiryWarning = 2 * time.Hour }, "auth.expiry_warning: must be between 1s and 1h (got 2h0m0s)"},
	{"hmac_secret short", func(c *Config) { c.Auth.HMACSecret = strings.Repeat("k", 31) }, "auth.hmac_secret: at least 32 bytes required (got 31)"},
	{"hmac_secret short in dev", func(c *Config) { c.Auth.HMACSecret, c.Dev = "k", true }, "auth.hmac_secret: at least 32 bytes required (got 1)"},
	{"hmac_secret 32 bytes", func(c *Config) { c.Auth.HMACSecret = strings.Repeat("k", 32) }, ""},
	{"api.key short", func(c *Config) { c.API.Key = strings.Repeat("a", 15) }, "api.key: at least 16 bytes required (got 15)"},
	{"api.key 16 bytes", func(c *Config) { c.API.Key = strings.Repeat("a", 16) }, ""},
	{"conformance enabled without a path", func(c *Config) { c.Conformance.Enabled = true }, ""},
	{"echo_path enabled", func(c *Config) { c.Conformance = Conformance{Enabled: true, EchoPath: "/echo"} }, ""},
	{"echo_path relative", func(c *Config) { c.Conformance = Conformance{Enabled: true, EchoPath: "echo"} },
		`conformance.echo_path: must start with "/" (got "echo")`},
	{"echo_path is ws_path", func(c *Config) { c.Conformance = Conformance{Enabled: true, EchoPath: "/ws"} },
		`conformance.echo_path: must differ from ws_path (both are "/ws")`},
	// Last of the conformance cases: TestValidateJoinsAllProblems applies
	// every case in turn, and this one fails whatever ws_path became.
	{"echo_path without enabled", func(c *Config) { c.Conformance = Conformance{EchoPath: "/echo"} },
		`conformance.echo_path: the echo route answers anyone without a token and is for conformance test runs only; ` +
			`set conformance.enabled: true as well to turn it on (got "/echo")`},
}

func TestValidate(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("Validate() = nil, want %q", tc.want)
			case err.Error() != tc.want:
				t.Errorf("Validate()\n got %q\nwant %q", err, tc.want)
			case !errors.Is(err, ErrInvalidValue):
				t.Errorf("error does not wrap ErrInvalidValue")
			}
		})
	}
}

func TestValidateJoinsAllProblems(t *testing.T) {
	c := validConfig()
	var want []string
	for _, tc := range validateCases {
		if tc.want != "" && !strings.HasPrefix(tc.want, "auth") && !strings.HasPrefix(tc.want, "socket_mode") {
			tc.mutate(&c)
		}
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, key := range []string{"listen:", "ws_path:", "log_level:", "workers:", "flush_delay:", "heartbeat.interval:", "heartbeat.timeout:",
		"limits.max_connections:", "limits.max_subscriptions:", "limits.max_channel_length:", "limits.max_message_size:",
		"limits.max_fragments:", "limits.write_queue_bytes:", "limits.handshake_timeout:", "limits.max_header_bytes:",
		"limits.max_token_bytes:", "limits.max_publish_bytes:", "origins:", "socket_peer_uids:", "history.size:", "history.max_bytes:", "slow_consumer:", "channels[0]:", "compression.mode:", "compression.min_bytes:", "compression.level:",
		"idempotency.window:", "broker.redis.address:", "api.key:", "conformance.echo_path:", "drain.window:", "drain.reconnect_after:",
		"drain.close_code:", "handoff.timeout:", "handoff.fdstore_max:", "metrics.listen:"} {
		want = append(want, key)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, want[i]) {
			t.Errorf("problem %d = %q, want key %s", i, line, want[i])
		}
	}
}

// TestSecretsNeverInErrors feeds secrets through every path that can fail
// near them and checks the error text.
func TestSecretsNeverInErrors(t *testing.T) {
	const short = "SHORT-SECRET-xyz"
	const apiKey = "APIKEY-tiny"
	cases := []struct {
		name string
		load func(t *testing.T) error
	}{
		{"short inline secret", func(*testing.T) error {
			c := validConfig()
			c.Auth.HMACSecret = short
			return c.Validate()
		}},
		{"secret and file", func(*testing.T) error {
			c := validConfig()
			c.Auth.HMACSecretFile = "/k"
			_, err := c.HMACKey()
			return errors.Join(c.Validate(), err)
		}},
		{"short api key", func(*testing.T) error {
			c := validConfig()
			c.API.Key = apiKey
			return c.Validate()
		}},
		{"short secret from env", func(t *testing.T) error {
			_, err := Load(Source{Environ: []string{"FANOUTD_AUTH_HMAC_SECRET=" + short, "FANOUTD_API_KEY=" + apiKey}})
			return err
		}},
		{"numeric secret in file", func(t *testing.T) error {
			_, err := loadYAML(t, "auth:\n  hmac_secret: 123456789012345678901234567890123\napi:\n  key: 9876543210987654321\n")
			return err
		}},
		{"secret with a typo'd key", func(t *testing.T) error {
			_, err := loadYAML(t, "auth:\n  hmac_secrt: "+testSecret+"\n")
			return err
		}},
		{"secret in a malformed file", func(t *testing.T) error {
			_, err := loadYAML(t, "auth:\n  hmac_secret: \""+testSecret+"\n  x: [\n")
			return err
		}},
		{"secret as a mapping", func(t *testing.T) error {
			_, err := loadYAML(t, "auth:\n  hmac_secret: {"+testSecret+": 1}\n")
			return err
		}},
		{"short secret file", func(t *testing.T) error {
			c := validConfig()
			c.Auth = Auth{HMACSecretFile: writeFile(t, "key", short+"\n")}
			_, err := c.HMACKey()
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load(t)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, secret := range []string{testSecret, short, apiKey, "1234567890123", "9876543210"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
		})
	}
}
