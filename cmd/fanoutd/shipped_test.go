package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
)

// shipped reads a file of systemd/, as make install and the package ship it.
func shipped(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShippedConfig: the default configuration is refused, naming the
// secret file, until that file exists (what the service's ExecStartPre
// then writes to the journal), and passes check-config once it holds a
// secret like the one postinst writes.
func TestShippedConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hmac_secret")
	file := filepath.Join(dir, "fanoutd.yaml")
	writeFile(t, file, strings.ReplaceAll(shipped(t, "fanoutd.yaml"), "/etc/fanoutd/hmac_secret", secret))

	_, err := run(context.Background(), "check-config", "--config", file)
	if err == nil || !strings.Contains(err.Error(), "auth.hmac_secret_file") || !strings.Contains(err.Error(), secret) {
		t.Fatalf("without the secret file: %v, want an error naming auth.hmac_secret_file and %s", err, secret)
	}
	writeFile(t, secret, strings.Repeat("5e", 32)) // 32 bytes in hex, as postinst writes
	if out, err := run(context.Background(), "check-config", "--config", file); err != nil {
		t.Fatalf("with the secret file: %v\n%s", err, out)
	}
}

// TestShippedUnitsMatchConfig: the socket unit listens where the default
// configuration says (or the daemon would warn at every start), its group
// is one that sysusers.d creates, and the service reads the configuration
// where the package puts it.
func TestShippedUnitsMatchConfig(t *testing.T) {
	cfg, err := config.Load(config.Source{File: filepath.Join("..", "..", "systemd", "fanoutd.yaml"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	socket := shipped(t, "fanoutd.socket")
	var listen []string
	for _, line := range strings.Split(socket, "\n") {
		if v, ok := strings.CutPrefix(line, "ListenStream="); ok {
			listen = append(listen, v)
		}
	}
	if want := []string{cfg.Listen, cfg.Socket}; !slices.Equal(listen, want) {
		t.Errorf("fanoutd.socket listens on %q, the configuration on %q", listen, want)
	}
	if !strings.Contains(socket, "\nSocketGroup=fanoutd-publish\n") || !strings.Contains(shipped(t, "fanoutd.sysusers"), "\ng fanoutd-publish ") {
		t.Error("the socket's group is not the one sysusers.d creates")
	}
	const path = "/etc/fanoutd/fanoutd.yaml"
	if n := strings.Count(shipped(t, "fanoutd.service"), "--config "+path+"\n"); n != 2 {
		t.Errorf("fanoutd.service reads %s in %d commands, want 2 (ExecStartPre, ExecStart)", path, n)
	}
	if !strings.Contains(shipped(t, "nfpm.yaml"), "dst: "+path+"\n") {
		t.Errorf("the package does not install %s", path)
	}
}

// TestShippedUnitLetsTheDrainFinish: TimeoutStopSec= leaves the daemon its
// whole shutdown (drain.window of the shipped configuration plus
// fanoutd.ShutdownGrace), so systemd never kills a daemon that drains as
// configured.
func TestShippedUnitLetsTheDrainFinish(t *testing.T) {
	cfg, err := config.Load(config.Source{File: filepath.Join("..", "..", "systemd", "fanoutd.yaml"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var stop time.Duration
	for _, line := range strings.Split(shipped(t, "fanoutd.service"), "\n") {
		if v, ok := strings.CutPrefix(line, "TimeoutStopSec="); ok {
			if stop, err = time.ParseDuration(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if need := cfg.Drain.Window + fanoutd.ShutdownGrace; stop < need {
		t.Fatalf("TimeoutStopSec=%v, want at least drain.window + ShutdownGrace = %v", stop, need)
	}
	if cfg.Drain.CloseCode != 1012 {
		t.Errorf("the shipped configuration closes with %d at a stop, want 1012: under systemd most stops are restarts", cfg.Drain.CloseCode)
	}
}
