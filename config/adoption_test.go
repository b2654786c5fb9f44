package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestPortRange: a port outside 0–65535 (or not a number) is refused for
// every address key, naming the key.
func TestPortRange(t *testing.T) {
	cases := []struct{ name, key string }{
		{"FANOUTD_LISTEN=127.0.0.1:99999", "listen"},
		{"FANOUTD_LISTEN=127.0.0.1:-1", "listen"},
		{"FANOUTD_LISTEN=127.0.0.1:http", "listen"},
		{"FANOUTD_METRICS_LISTEN=127.0.0.1:70000", "metrics.listen"},
		{"FANOUTD_BROKER_REDIS_ADDRESS=127.0.0.1:65536", "broker.redis.address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"FANOUTD_DEV=true", "FANOUTD_METRICS_ENABLED=true", "FANOUTD_BROKER_TYPE=redis", tc.name}
			_, err := Load(Source{Environ: env})
			if err == nil || !strings.Contains(err.Error(), tc.key+": ") || !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("Load(%s) = %v, want an error naming %s", tc.name, err, tc.key)
			}
		})
	}
	for _, ok := range []string{"127.0.0.1:0", "127.0.0.1:65535", "[::1]:8080", ":8080"} {
		if _, err := Load(Source{Environ: []string{"FANOUTD_DEV=true", "FANOUTD_LISTEN=" + ok}}); err != nil {
			t.Errorf("listen %s refused: %v", ok, err)
		}
	}
}

// TestUnknownEnvironment: a FANOUTD_* variable that names no key is
// reported (with the likely one), and key variables are not.
func TestUnknownEnvironment(t *testing.T) {
	got := UnknownEnvironment([]string{"FANOUTD_LISTN=x", "FANOUTD_LISTEN=127.0.0.1:1", "HOME=/root",
		"FANOUTD_AUTH_HMACSECRET=y", "FANOUTD_NOPE=1", "FANOUTD_LISTN=again"})
	want := []string{
		"FANOUTD_AUTH_HMACSECRET names no configuration key (did you mean FANOUTD_AUTH_HMAC_SECRET?)",
		"FANOUTD_LISTN names no configuration key (did you mean FANOUTD_LISTEN?)",
		"FANOUTD_NOPE names no configuration key",
	}
	var msgs []string
	for _, err := range got {
		msgs = append(msgs, err.Error())
		if !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%v does not wrap ErrUnknownKey", err)
		}
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("UnknownEnvironment =\n%q\nwant\n%q", msgs, want)
	}
}

// TestFullFileHoldsTheDefaults: testdata/full.yaml is what the README says,
// every key with its default, so it decodes to exactly Default().
func TestFullFileHoldsTheDefaults(t *testing.T) {
	got, err := Load(Source{File: filepath.Join("testdata", "full.yaml"), Environ: []string{"FANOUTD_DEV=true"}})
	if err != nil {
		t.Fatalf("Load(full.yaml): %v", err)
	}
	want := Default()
	want.Dev = true
	want.LogLevel = got.LogLevel // the file sets log_level: dev mode's debug default does not apply
	// Printed, not DeepEqual: the file's [] decodes to an empty list where
	// Default() has nil, which means the same. Config has no pointer outside
	// channels, which is empty here.
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Load(full.yaml) =\n%+v\nwant Default()\n%+v", got, want)
	}
}

// TestDevLogsAtDebug: in dev mode the default level is debug, so that the
// refusals logged there are seen; a level that is set wins.
func TestDevLogsAtDebug(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"FANOUTD_DEV=true"}, "debug"},
		{[]string{"FANOUTD_DEV=true", "FANOUTD_LOG_LEVEL=info"}, "info"},
		{[]string{"FANOUTD_AUTH_HMAC_SECRET=0123456789abcdef0123456789abcdef"}, "info"},
	} {
		cfg, err := Load(Source{Environ: tc.env})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.LogLevel != tc.want {
			t.Errorf("%v: log_level %q, want %q", tc.env, cfg.LogLevel, tc.want)
		}
	}
}

// TestUnmarkedFlagIsNoKey: a command's own --channels (patterns, not the
// channels key's classes) is not read as configuration.
func TestUnmarkedFlagIsNoKey(t *testing.T) {
	cfg, err := Load(Source{Flags: testFlags(t, "--channels", "project:*"), Environ: []string{"FANOUTD_DEV=true"}})
	if err != nil || len(cfg.Channels) != 0 {
		t.Fatalf("Load with an unmarked --channels: %v, channels %v", err, cfg.Channels)
	}
}
