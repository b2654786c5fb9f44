package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// precedenceKeys are the keys the precedence table is run for: one plain,
// one secret set through a flag that RegisterFlags does not define.
var precedenceKeys = []struct {
	key, yaml, env, flag string
	vals                 map[string]string // layer -> value set there
	get                  func(Config) string
}{
	{
		key: "listen", yaml: "listen: %q\n", env: "FANOUTD_LISTEN", flag: "listen",
		vals: map[string]string{"": "127.0.0.1:8080", "file": "10.0.0.1:1001", "env": "10.0.0.2:1002", "flag": "10.0.0.3:1003"},
		get:  func(c Config) string { return c.Listen },
	},
	{
		key: "auth.hmac_secret", yaml: "auth:\n  hmac_secret: %q\n", env: "FANOUTD_AUTH_HMAC_SECRET", flag: "auth-hmac-secret",
		vals: map[string]string{"": "", "file": strings.Repeat("f", 32), "env": strings.Repeat("e", 32), "flag": strings.Repeat("g", 32)},
		get:  func(c Config) string { return c.Auth.HMACSecret },
	},
}

func TestPrecedence(t *testing.T) {
	cases := []struct {
		name string
		set  []string // layers that set the key
		want string   // layer whose value wins; "" is the default
	}{
		{"default", nil, ""},
		{"file over default", []string{"file"}, "file"},
		{"env over default", []string{"env"}, "env"},
		{"env over file", []string{"file", "env"}, "env"},
		{"flag over default", []string{"flag"}, "flag"},
		{"flag over file", []string{"file", "flag"}, "flag"},
		{"flag over env", []string{"env", "flag"}, "flag"},
		{"flag over env over file", []string{"file", "env", "flag"}, "flag"},
	}
	for _, k := range precedenceKeys {
		for _, tc := range cases {
			t.Run(k.key+"/"+tc.name, func(t *testing.T) {
				yaml, env, args := "dev: true\n", []string{}, []string{}
				for _, layer := range tc.set {
					switch layer {
					case "file":
						yaml += fmt.Sprintf(k.yaml, k.vals["file"])
					case "env":
						env = append(env, k.env+"="+k.vals["env"])
					case "flag":
						args = append(args, "--"+k.flag+"="+k.vals["flag"])
					}
				}
				cfg, err := Load(Source{File: writeFile(t, "c.yaml", yaml), Flags: testFlags(t, args...), Environ: env})
				if err != nil {
					t.Fatal(err)
				}
				if got := k.get(cfg); got != k.vals[tc.want] {
					t.Errorf("%s = %q, want %q (the %q layer)", k.key, got, k.vals[tc.want], tc.want)
				}
			})
		}
	}
}

// testFlags is the documented flag set plus one extra key flag and one that
// names no key, parsed from args.
func testFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	fs.String("auth-hmac-secret", "", "")
	fs.String("heartbeat-interval", "", "")
	MarkKeyFlag(fs, "auth-hmac-secret")
	MarkKeyFlag(fs, "heartbeat-interval")
	fs.String("config", "", "")
	fs.String("channels", "", "a command's own flag that shares a key's name")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestRegisteredFlags(t *testing.T) {
	file := "dev: true\nlisten: 10.0.0.1:1\nsocket: /file.sock\nws_path: /file\nlog_level: warn\nworkers: 3\n"
	cases := []struct {
		name  string
		args  []string
		check func(Config) bool
	}{
		{"unset flags keep file values", nil, func(c Config) bool {
			return c.Listen == "10.0.0.1:1" && c.Socket == "/file.sock" && c.WSPath == "/file" &&
				c.LogLevel == "warn" && c.Workers == 3 && c.Dev
		}},
		{"--listen", []string{"--listen", "[::1]:9"}, func(c Config) bool { return c.Listen == "[::1]:9" }},
		{"--socket", []string{"--socket=/flag.sock"}, func(c Config) bool { return c.Socket == "/flag.sock" }},
		{"--socket empty disables", []string{"--socket="}, func(c Config) bool { return c.Socket == "" }},
		{"--ws-path", []string{"--ws-path=/flag"}, func(c Config) bool { return c.WSPath == "/flag" }},
		{"--log-level", []string{"--log-level=debug"}, func(c Config) bool { return c.LogLevel == "debug" }},
		{"--workers", []string{"--workers=8"}, func(c Config) bool { return c.Workers == 8 }},
		{"--dev=false beats file", []string{"--dev=false", "--auth-hmac-secret=" + testSecret}, func(c Config) bool { return !c.Dev }},
		{"extra key flag", []string{"--heartbeat-interval=2s"}, func(c Config) bool { return c.Heartbeat.Interval == 2*time.Second }},
		{"flag naming no key ignored", []string{"--config=/x"}, func(c Config) bool { return c.Listen == "10.0.0.1:1" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(Source{File: writeFile(t, "c.yaml", file), Flags: testFlags(t, tc.args...), Environ: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	cases := []struct {
		name  string
		env   []string
		check func(Config) bool
	}{
		{"every documented form", []string{
			"FANOUTD_AUTH_HMAC_SECRET=" + testSecret, "FANOUTD_HEARTBEAT_INTERVAL=1m",
			"FANOUTD_API_KEY=0123456789abcdef", "FANOUTD_LIMITS_MAX_CONNECTIONS=7", "FANOUTD_DEV=true",
		}, func(c Config) bool {
			return c.Auth.HMACSecret == testSecret && c.Heartbeat.Interval == time.Minute &&
				c.API.Key == "0123456789abcdef" && c.Limits.MaxConnections == 7 && c.Dev
		}},
		{"empty variable is unset", []string{"FANOUTD_DEV=true", "FANOUTD_LISTEN="}, func(c Config) bool { return c.Listen == "127.0.0.1:8080" }},
		{"first entry wins", []string{"FANOUTD_DEV=true", "FANOUTD_WORKERS=1", "FANOUTD_WORKERS=2"}, func(c Config) bool { return c.Workers == 1 }},
		{"other variables ignored", []string{"FANOUTD_DEV=true", "LISTEN=x", "fanoutd_listen=x", "FANOUTD_NOPE=1"}, func(c Config) bool { return c.Listen == "127.0.0.1:8080" }},
		{"socket mode octal", []string{"FANOUTD_DEV=true", "FANOUTD_SOCKET_MODE=0600"}, func(c Config) bool { return c.SocketMode == 0o600 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(Source{Environ: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

// TestEnvSetsEveryKey proves each key is reachable from the environment.
func TestEnvSetsEveryKey(t *testing.T) {
	want := fullConfig()
	want.Auth.HMACSecret, want.Auth.HMACSecretFile = testSecret, ""
	want.SocketGroup = "0"
	want.API.Key = "0123456789abcdef"
	want.Dev, want.Workers, want.LogLevel = true, 9, "debug"
	var env []string
	for _, f := range fieldsOf(&want) {
		env = append(env, envName(f.key)+"="+envString(f.val.Interface()))
	}
	got, err := Load(Source{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(env) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestNilEnvironUsesProcessEnvironment(t *testing.T) {
	t.Setenv("FANOUTD_DEV", "true")
	t.Setenv("FANOUTD_LISTEN", "10.9.9.9:99")
	cfg, err := Load(Source{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "10.9.9.9:99" {
		t.Errorf("Listen = %q, want the process environment's", cfg.Listen)
	}
}

func TestFileValues(t *testing.T) {
	cases := []struct {
		name, yaml string
		check      func(Config) bool
	}{
		{"null keeps default", "listen: ~\nauth:\n", func(c Config) bool { return c.Listen == "127.0.0.1:8080" }},
		{"empty section", "auth: {}\n", func(c Config) bool { return reflect.DeepEqual(c.Auth, Default().Auth) }},
		{"lists", "origins: [\"https://a.example\", \"http://b.example:8080\"]\nsocket_peer_uids: [1000, 1001]\n", func(c Config) bool {
			return reflect.DeepEqual(c.Origins, []string{"https://a.example", "http://b.example:8080"}) &&
				reflect.DeepEqual(c.SocketPeerUIDs, []int{1000, 1001})
		}},
		{"keys are case-insensitive", "Listen: 10.0.0.1:1\nLIMITS:\n  Max_Fragments: 3\n", func(c Config) bool {
			return c.Listen == "10.0.0.1:1" && c.Limits.MaxFragments == 3
		}},
		{"socket_mode quoted", `socket_mode: "0640"`, func(c Config) bool { return c.SocketMode == 0o640 }},
		{"socket_mode quoted without 0", `socket_mode: "640"`, func(c Config) bool { return c.SocketMode == 0o640 }},
		{"socket_mode 0o prefix", `socket_mode: "0o600"`, func(c Config) bool { return c.SocketMode == 0o600 }},
		{"socket_mode YAML octal int", "socket_mode: 0660", func(c Config) bool { return c.SocketMode == 0o660 }},
		{"socket_mode YAML 0o int", "socket_mode: 0o600", func(c Config) bool { return c.SocketMode == 0o600 }},
		{"durations", "heartbeat: {interval: 1m30s, timeout: 250ms}\nlimits: {handshake_timeout: 2s}", func(c Config) bool {
			return c.Heartbeat.Interval == 90*time.Second && c.Heartbeat.Timeout == 250*time.Millisecond &&
				c.Limits.HandshakeTimeout == 2*time.Second
		}},
		{"integral float is an int", "workers: 4.0", func(c Config) bool { return c.Workers == 4 }},
		{"JSON is YAML", `{"workers": 5, "limits": {"max_fragments": 6}}`, func(c Config) bool {
			return c.Workers == 5 && c.Limits.MaxFragments == 6
		}},
		{"empty file", "", func(c Config) bool { return reflect.DeepEqual(c, devDefault()) }},
		{"echo route with both keys", "conformance:\n  enabled: true\n  echo_path: /echo\n", func(c Config) bool {
			return c.Conformance == Conformance{Enabled: true, EchoPath: "/echo"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadYAML(t, tc.yaml, "FANOUTD_DEV=true")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func devDefault() Config {
	c := Default()
	c.Dev = true
	c.LogLevel = "debug" // dev mode's default level (TestDevLogsAtDebug)
	return c
}

// TestFileErrors covers keys and values Load refuses; want is the exact
// error text (one problem per case).
func TestFileErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		is         error
		want       string
	}{
		{"unknown top-level key", "listn: x", nil, ErrUnknownKey,
			`unknown key "listn" (did you mean "listen"?)`},
		{"unknown nested key", "limits:\n  max_subscription: 3", nil, ErrUnknownKey,
			`unknown key "limits.max_subscription" (did you mean "limits.max_subscriptions"?)`},
		{"unknown deeply nested key", "auth:\n  jwt:\n    issuer: me", nil, ErrUnknownKey,
			`unknown key "auth.jwt.issuer" (did you mean "auth.issuer"?)`},
		{"unknown section", "redis:\n  addr: x", nil, ErrUnknownKey,
			`unknown key "redis.addr"`},
		{"key in the wrong section", "heartbeat:\n  max_fragments: 3", nil, ErrUnknownKey,
			`unknown key "heartbeat.max_fragments" (did you mean "limits.max_fragments"?)`},
		{"section given a scalar", "limits: 5", nil, ErrInvalidValue,
			"limits: expected a mapping of limits.* keys, got a number"},
		{"section given a list", "auth: [a]", nil, ErrInvalidValue,
			"auth: expected a mapping of auth.* keys, got a list"},
		{"key given a mapping", "listen: {host: x}", nil, ErrInvalidValue,
			"listen: expected a string, got a mapping (quote the value)"},
		{"bad duration", "heartbeat:\n  interval: soon", nil, ErrInvalidValue,
			`heartbeat.interval: invalid duration "soon" (want e.g. "30s")`},
		{"duration without unit", "limits:\n  handshake_timeout: 5", nil, ErrInvalidValue,
			`limits.handshake_timeout: a duration needs a unit, e.g. "30s" (got 5)`},
		{"bad duration from env", "", []string{"FANOUTD_HEARTBEAT_TIMEOUT=10"}, ErrInvalidValue,
			`heartbeat.timeout: invalid duration "10" (want e.g. "30s") (from FANOUTD_HEARTBEAT_TIMEOUT)`},
		{"bad integer", "limits:\n  max_fragments: lots", nil, ErrInvalidValue,
			`limits.max_fragments: not an integer: "lots"`},
		{"fractional integer", "workers: 1.5", nil, ErrInvalidValue,
			"workers: expected an integer, got 1.5"},
		{"boolean for integer", "workers: true", nil, ErrInvalidValue,
			"workers: expected an integer, got true"},
		{"bad boolean", "dev: yes", nil, ErrInvalidValue,
			`dev: not a boolean: "yes" (want true or false)`},
		{"number for string", "ws_path: 12", nil, ErrInvalidValue,
			"ws_path: expected a string, got a number (quote the value)"},
		{"bad octal", `socket_mode: "0980"`, nil, ErrInvalidValue,
			`socket_mode: not an octal mode: "0980" (want e.g. "0660")`},
		{"negative mode", "socket_mode: -1", nil, ErrInvalidValue,
			`socket_mode: expected an octal mode such as "0660", got -1`},
		{"echo route from the environment without enabled", "", []string{"FANOUTD_CONFORMANCE_ECHO_PATH=/echo"}, ErrInvalidValue,
			`conformance.echo_path: the echo route answers anyone without a token and is for conformance test runs only; ` +
				`set conformance.enabled: true as well to turn it on (got "/echo")`},
		{"decimal mode", "socket_mode: 660", nil, ErrInvalidValue,
			`socket_mode: must be a permission mode within 0777 (got 01224); write it as a quoted octal string, e.g. "0660"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadYAML(t, tc.yaml, append(tc.env, "FANOUTD_AUTH_HMAC_SECRET="+testSecret)...)
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(err, %v) = false", tc.is)
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	missing := t.TempDir() + "/missing.yaml"
	_, err := Load(Source{File: missing, Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist naming %s", err, missing)
	}
	bad := writeFile(t, "bad.yaml", "listen: [\n")
	_, err = Load(Source{File: bad, Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed file: err = %v, want an error naming %s", err, bad)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	_, err := loadYAML(t, "listn: x\nworkers: -1\nheartbeat:\n  timeout: 0s\n", "FANOUTD_LOG_LEVEL=loud")
	want := []string{
		`unknown key "listn" (did you mean "listen"?)`,
		`log_level: must be one of debug, info, warn, error (got "loud")`,
		"workers: must be between 0 and 1024 (got -1)",
		"heartbeat.timeout: must be > 0 (got 0s)",
		"auth: one of auth.hmac_secret or auth.hmac_secret_file is required (or run with --dev)",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("error\n got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != len(want) {
		t.Errorf("joined %d errors, want %d", n, len(want))
	}
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalidValue) {
		t.Error("joined error does not wrap both sentinels")
	}
}

func TestLoadReturnsZeroConfigOnError(t *testing.T) {
	cfg, err := Load(Source{Environ: []string{}})
	if err == nil || !reflect.DeepEqual(cfg, Config{}) {
		t.Errorf("Load = %+v, %v; want zero Config and an error", cfg, err)
	}
}

func TestLoadDoesNotTouchWorkingDirectory(t *testing.T) {
	before, _ := os.ReadDir(".")
	if _, err := Load(Source{Environ: []string{"FANOUTD_DEV=1"}}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadDir(".")
	if len(before) != len(after) {
		t.Error("Load created files in the working directory")
	}
}

func TestChannelClassUnknownFieldIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "dev: true\nchannels:\n  - prefix: \"a:\"\n    history_sise: 3\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Source{File: file, Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), `unknown key "history_sise"`) {
		t.Fatalf("Load = %v, want the unknown key named", err)
	}
}
