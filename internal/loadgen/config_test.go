package loadgen

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseTargetAcceptsOnlyLoopback(t *testing.T) {
	cases := []struct {
		name    string
		url     string
		addr    string
		path    string
		wantErr error
	}{
		{name: "default", url: "ws://127.0.0.1:8080/ws", addr: "127.0.0.1:8080", path: "/ws"},
		{name: "other loopback", url: "ws://127.9.8.7:1/x?y=1", addr: "127.9.8.7:1", path: "/x?y=1"},
		{name: "localhost", url: "ws://localhost:9/ws", addr: "127.0.0.1:9", path: "/ws"},
		{name: "no port", url: "ws://127.0.0.1/ws", addr: "127.0.0.1:80", path: "/ws"},
		{name: "remote", url: "ws://10.0.0.1:8080/ws", wantErr: ErrNotLoopback},
		{name: "hostname", url: "ws://example.com:8080/ws", wantErr: ErrNotLoopback},
		{name: "ipv6 loopback", url: "ws://[::1]:8080/ws", wantErr: ErrNotLoopback},
		{name: "unspecified", url: "ws://0.0.0.0:8080/ws", wantErr: ErrNotLoopback},
		{name: "wss", url: "wss://127.0.0.1:8080/ws", wantErr: ErrConfig},
		{name: "bad port", url: "ws://127.0.0.1:99999/ws", wantErr: ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTarget(tc.url)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseTarget(%q) error %v, want %v", tc.url, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Addr != tc.addr || got.Path != tc.path {
				t.Fatalf("ParseTarget(%q) = %+v, %v; want addr %s path %s", tc.url, got, err, tc.addr, tc.path)
			}
		})
	}
}

func TestSourceIPs(t *testing.T) {
	if got := SourceIP(0).String(); got != "127.0.0.2" {
		t.Errorf("SourceIP(0) = %s", got)
	}
	if got := SourceIP(MaxSourceIPs - 1).String(); got != "127.0.0.251" {
		t.Errorf("SourceIP(last) = %s", got)
	}
}

func TestResolveDefaults(t *testing.T) {
	cases := []struct {
		conns, procs, ips int
	}{
		{conns: 1, procs: 1, ips: 1},
		{conns: 18000, procs: 1, ips: 1},
		{conns: 18001, procs: 2, ips: 1},
		{conns: 20000, procs: 2, ips: 1},
		{conns: 50001, procs: 3, ips: 3},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		c.Conns = tc.conns
		c = c.Resolve()
		if c.Procs != tc.procs || c.SourceIPs != tc.ips {
			t.Errorf("conns %d: procs %d ips %d, want %d %d", tc.conns, c.Procs, c.SourceIPs, tc.procs, tc.ips)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Secret = "0123456789abcdef0123456789abcdef"
	if err := ok.Resolve().Validate(); err != nil {
		t.Fatalf("default config with a secret: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   error
	}{
		{name: "short secret", mutate: func(c *Config) { c.Secret = "short" }, want: ErrConfig},
		{name: "token instead", mutate: func(c *Config) { c.Secret, c.Token = "", "x.y.z" }},
		{name: "remote url", mutate: func(c *Config) { c.URL = "ws://192.168.1.1:8080/ws" }, want: ErrNotLoopback},
		{name: "duration too long", mutate: func(c *Config) { c.Duration = 11 * time.Minute }, want: ErrConfig},
		{name: "zero rate", mutate: func(c *Config) { c.Rate = 0 }, want: ErrConfig},
		{name: "batch over body limit", mutate: func(c *Config) { c.Batch = 10000 }, want: ErrConfig},
		{name: "tiny payload", mutate: func(c *Config) { c.Payload = 10 }, want: ErrConfig},
		{name: "too many per proc", mutate: func(c *Config) { c.Conns, c.Procs = 40000, 1 }, want: ErrConfig},
		{name: "too many per ip", mutate: func(c *Config) { c.Conns, c.Procs, c.SourceIPs = 40000, 3, 1 }, want: ErrConfig},
		{name: "more procs than conns", mutate: func(c *Config) { c.Conns, c.Procs = 2, 3 }, want: ErrConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Resolve().Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWorkerRefusesRemoteTarget(t *testing.T) {
	spec := `{"target":{"addr":"10.0.0.1:80","host":"x","path":"/ws"},"count":1}` + "\n"
	err := RunWorker(t.Context(), strings.NewReader(spec), io.Discard)
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("RunWorker with a remote target: %v", err)
	}
}
