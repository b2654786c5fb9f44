package config

import (
	"encoding/json"
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSecret is long enough to pass validation and distinctive enough that a
// leak into an error string is easy to spot.
const testSecret = "s3cret-SHOULD-NEVER-BE-PRINTED-0123456789"

// validConfig is the smallest Config that passes Validate outside dev mode.
func validConfig() Config {
	c := Default()
	c.Auth.HMACSecret = testSecret
	return c
}

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadYAML loads yaml as a file with an explicit (hermetic) environment.
func loadYAML(t *testing.T, yaml string, env ...string) (Config, error) {
	t.Helper()
	return Load(Source{File: writeFile(t, "fanoutd.yaml", yaml), Environ: append([]string{}, env...)})
}

// envString renders a field value the way an operator would write it in an
// environment variable.
func envString(v any) string {
	switch x := v.(type) {
	case []ChannelClass:
		// As an operator writes it: durations as strings with a unit.
		items := make([]map[string]any, len(x))
		for i, c := range x {
			items[i] = map[string]any{"prefix": c.Prefix}
			if c.HistorySize != nil {
				items[i]["history_size"] = *c.HistorySize
			}
			if c.HistoryTTL != nil {
				items[i]["history_ttl"] = c.HistoryTTL.String()
			}
			if c.SlowConsumer != "" {
				items[i]["slow_consumer"] = c.SlowConsumer
			}
			if c.JoinLeave != nil {
				items[i]["join_leave"] = *c.JoinLeave
			}
			if c.Compression != "" {
				items[i]["compression"] = c.Compression
			}
			if c.CompressionMinBytes != nil {
				items[i]["compression_min_bytes"] = *c.CompressionMinBytes
			}
		}
		b, _ := json.Marshal(items)
		return string(b)
	case time.Duration:
		return x.String()
	case os.FileMode:
		return fmt.Sprintf("%04o", uint32(x))
	case []string:
		return strings.Join(x, ",")
	case []int:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.Itoa(n)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

func TestDefaultMatchesDocumentedValues(t *testing.T) {
	want := map[string]any{
		"listen": "127.0.0.1:8080", "ws_path": "/ws", "socket": "./fanoutd.sock",
		"socket_mode": os.FileMode(0o660), "log_level": "info", "dev": false, "workers": 0,
		"auth.hmac_secret": "", "auth.hmac_secret_file": "", "auth.algorithms": []string{"HS256"},
		"auth.public_key_file": "", "auth.jwks_file": "", "auth.audience": "", "auth.issuer": "",
		"auth.leeway": time.Duration(0), "auth.cookie": "", "auth.anonymous": false,
		"auth.public_channels": []string(nil), "auth.expiry_warning": time.Minute, "origins": []string(nil), "socket_group": "",
		"socket_peer_uids": []int(nil), "socket_peer_gids": []int(nil),
		"heartbeat.interval": 30 * time.Second, "heartbeat.timeout": 10 * time.Second,
		"limits.max_connections": 0, "limits.max_subscriptions": 128,
		"limits.max_connections_per_ip": 0, "limits.max_connections_per_user": 0, "limits.upgrade_rate": 0,
		"limits.commands_per_second": 50,
		"limits.max_channel_length":  255, "limits.max_message_size": 65536,
		"limits.max_fragments": 64, "limits.write_queue_bytes": 1048576,
		"limits.handshake_timeout": 5 * time.Second, "limits.message_timeout": 10 * time.Second, "limits.max_header_bytes": 16384,
		"limits.max_token_bytes": 4096, "limits.max_publish_bytes": 1048576,
		"flush_delay": time.Duration(0),
		"api.key":     "", "slow_consumer": "disconnect", "join_leave": false, "channels": []ChannelClass(nil),
		"history.size": 100, "history.ttl": 5 * time.Minute, "history.max_bytes": 64 << 20,
		"idempotency.window": 5 * time.Minute, "idempotency.max_keys": 100_000,
		"broker.type": "memory", "broker.redis.address": "127.0.0.1:6379", "broker.redis.prefix": "fanoutd",
		"broker.redis.password": "", "broker.redis.shards": []string(nil), "broker.redis.sentinel_master": "",
		"broker.redis.sentinel_addresses": []string(nil), "broker.redis.cluster": false, "broker.nats.url": "nats://127.0.0.1:4222", "broker.nats.prefix": "fanoutd",
		"broker.nats.stream":  "FANOUTD",
		"conformance.enabled": false, "conformance.echo_path": "",
		"drain.window": 10 * time.Second, "drain.close_code": 1001, "drain.reconnect_after": time.Second,
		"handoff.enabled": true, "handoff.timeout": 30 * time.Second, "handoff.fdstore_max": 0,
		"metrics.enabled": false, "metrics.listen": "", "health.enabled": true, "status.enabled": false,
		"sse.enabled": true, "sse.path": "/sse", "sse.heartbeat": 15 * time.Second, "sse.max_streams": 1000,
		"compression.negotiate": true, "compression.mode": "auto", "compression.min_bytes": 512, "compression.level": 1,
		"auth.hmac_secrets": []HMACSecret(nil), "auth.jwks_url": "", "auth.jwks_refresh": 15 * time.Minute,
		"auth.jwks_ca_file": "", "status.allowed_hosts": []string(nil),
	}
	def := Default()
	fields := fieldsOf(&def)
	if len(fields) != len(want) {
		t.Errorf("Config has %d keys, test documents %d: update both", len(fields), len(want))
	}
	for _, f := range fields {
		if got := f.val.Interface(); !reflect.DeepEqual(got, want[f.key]) {
			t.Errorf("default %s = %v, want %v", f.key, got, want[f.key])
		}
	}
}

func TestDefaultIsValidOnlyWithAKeyOrDev(t *testing.T) {
	err := Default().Validate()
	want := "auth: one of auth.hmac_secret or auth.hmac_secret_file is required (or run with --dev)"
	if err == nil || err.Error() != want {
		t.Fatalf("Default().Validate() = %v, want %q", err, want)
	}
	dev := Default()
	dev.Dev = true
	if err := dev.Validate(); err != nil {
		t.Fatalf("dev default: %v", err)
	}
}

func TestKeysAreUniqueAndTagged(t *testing.T) {
	var c Config
	seen := map[string]map[string]bool{"key": {}, "env": {}, "flag": {}}
	for _, f := range fieldsOf(&c) {
		if f.key == "" || strings.HasPrefix(f.key, ".") || strings.HasSuffix(f.key, ".") {
			t.Errorf("field without a key tag: %q", f.key)
		}
		for kind, name := range map[string]string{"key": f.key, "env": envName(f.key), "flag": flagName(f.key)} {
			if seen[kind][name] {
				t.Errorf("%s: %s name %q collides with another key's", f.key, kind, name)
			}
			seen[kind][name] = true
		}
	}
}

func TestEnvNames(t *testing.T) {
	for key, want := range map[string]string{
		"auth.hmac_secret":       "FANOUTD_AUTH_HMAC_SECRET",
		"heartbeat.interval":     "FANOUTD_HEARTBEAT_INTERVAL",
		"api.key":                "FANOUTD_API_KEY",
		"limits.max_connections": "FANOUTD_LIMITS_MAX_CONNECTIONS",
		"ws_path":                "FANOUTD_WS_PATH",
	} {
		if got := envName(key); got != want {
			t.Errorf("envName(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestEveryFieldDecodes guards setValue's type switch: every field must
// accept both its own type (defaults) and a string (env and flags).
func TestEveryFieldDecodes(t *testing.T) {
	want := fullConfig()
	for _, f := range fieldsOf(&want) {
		var got Config
		dst := fieldByKey(&got, f.key)
		for _, raw := range []any{f.val.Interface(), envString(f.val.Interface())} {
			if err := setValue(dst, raw); err != nil {
				t.Errorf("%s from %T: %v", f.key, raw, err)
			}
			if !reflect.DeepEqual(dst.Interface(), f.val.Interface()) {
				t.Errorf("%s from %T = %v, want %v", f.key, raw, dst.Interface(), f.val.Interface())
			}
		}
	}
}

func fieldByKey(c *Config, key string) reflect.Value {
	for _, f := range fieldsOf(c) {
		if f.key == key {
			return f.val
		}
	}
	panic("no key " + key)
}

// TestImportsStayOutward enforces the layering in STYLE.md: config is a leaf
// that the command wires in, and never imports another fanoutd package.
func TestImportsStayOutward(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/fanoutd/fanoutd/") {
			t.Errorf("config imports %s", imp)
		}
	}
}

// FuzzLoadYAML checks that no file makes Load panic or print the secret
// that the environment supplies.
func FuzzLoadYAML(f *testing.F) {
	for _, name := range []string{"full.yaml", "example.yaml", "bad.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("limits: 5\nauth: [1]\nlisten: {a: {b: 1}}\nsocket_mode: -0o7\nworkers: 1e300\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Source{File: path, Environ: []string{"FANOUTD_API_KEY=" + testSecret}})
		if err != nil && strings.Contains(err.Error(), testSecret) && !strings.Contains(string(data), testSecret) {
			t.Fatalf("error leaks the env secret: %v", err)
		}
	})
}
