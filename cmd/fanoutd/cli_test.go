package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
)

const cliSecret = "0123456789abcdef0123456789abcdef"

// TestTokenChannelsFlag: the README's command mints a token for alice on
// project:*. --channels used to be read as the channels configuration key
// as well, and failed ("expected a JSON array of channel classes").
func TestTokenChannelsFlag(t *testing.T) {
	t.Setenv("FANOUTD_AUTH_HMAC_SECRET", cliSecret)
	out, err := run(context.Background(), "token", "--sub", "alice", "--channels", "project:*,user:{sub}")
	if err != nil {
		t.Fatalf("token: %v %s", err, out)
	}
	parts := strings.Split(strings.TrimSpace(out), ".")
	if len(parts) != 3 {
		t.Fatalf("token printed %q", out)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub      string   `json:"sub"`
		Channels []string `json:"channels"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != "alice" || strings.Join(claims.Channels, ",") != "project:*,user:{sub}" {
		t.Fatalf("claims %s", raw)
	}
}

// TestCheckConfigDev: the error without a secret suggests --dev, and
// check-config accepts it (it used to reject the flag it suggested).
func TestCheckConfigDev(t *testing.T) {
	t.Setenv("FANOUTD_AUTH_HMAC_SECRET", "")
	_, err := run(context.Background(), "check-config")
	if err == nil || !strings.Contains(err.Error(), "--dev") {
		t.Fatalf("without a secret: %v, want an error suggesting --dev", err)
	}
	out, err := run(context.Background(), "check-config", "--dev")
	if err != nil || !strings.Contains(out, "configuration OK") {
		t.Fatalf("check-config --dev: %v %s", err, out)
	}
}

// TestCheckConfigFullFile: the README's "every key with its default" file
// passes check-config with a secret from the environment, and with --dev.
func TestCheckConfigFullFile(t *testing.T) {
	full := filepath.Join("..", "..", "config", "testdata", "full.yaml")
	t.Setenv("FANOUTD_AUTH_HMAC_SECRET", cliSecret)
	if out, err := run(context.Background(), "check-config", "--config", full); err != nil || !strings.Contains(out, "configuration OK") {
		t.Fatalf("check-config full.yaml: %v %s", err, out)
	}
	t.Setenv("FANOUTD_AUTH_HMAC_SECRET", "")
	if out, err := run(context.Background(), "check-config", "--dev", "--config", full); err != nil || !strings.Contains(out, "configuration OK") {
		t.Fatalf("check-config --dev full.yaml: %v %s", err, out)
	}
}

// TestCheckConfigReportsUnknownEnvironment: a misspelt FANOUTD_* variable
// gets a warning naming the likely key; the configuration stays valid.
func TestCheckConfigReportsUnknownEnvironment(t *testing.T) {
	t.Setenv("FANOUTD_AUTH_HMAC_SECRET", cliSecret)
	t.Setenv("FANOUTD_LISTN", "127.0.0.1:1")
	out, err := run(context.Background(), "check-config")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "warning: FANOUTD_LISTN names no configuration key (did you mean FANOUTD_LISTEN?)") ||
		!strings.Contains(out, "configuration OK") {
		t.Fatalf("check-config printed %q", out)
	}
}

// TestCheckConfigPortRange: port 99999 is refused, naming the key.
func TestCheckConfigPortRange(t *testing.T) {
	_, err := run(context.Background(), "check-config", "--dev", "--listen", "127.0.0.1:99999")
	if err == nil || !strings.Contains(err.Error(), "listen: port must be a number from 0 to 65535") {
		t.Fatalf("listen 127.0.0.1:99999: %v", err)
	}
}

// TestVersion: `fanoutd version` and `fanoutd --version` print the
// version, the commit and the Go version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := run(context.Background(), args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"fanoutd ", "commit ", runtime.Version()} {
			if !strings.Contains(out, want) {
				t.Errorf("%v printed %q, want %q in it", args, out, want)
			}
		}
	}
}

// TestPublishSocket: publish's socket is --socket, else the configuration's
// (file and environment), else ./fanoutd.sock when it exists, else the
// packaged /run/fanoutd/fanoutd.sock when that exists.
func TestPublishSocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.yaml")
	writeFile(t, file, "socket: /srv/app.sock\n")
	exists := func(paths ...string) func(string) bool {
		return func(p string) bool { return strings.Contains(strings.Join(paths, "\n"), p) }
	}
	cases := []struct {
		name   string
		args   []string
		env    string
		exists func(string) bool
		want   string
	}{
		{"flag wins", []string{"--socket", "/x.sock", "--config", file}, "/y.sock", exists(), "/x.sock"},
		{"file", []string{"--config", file}, "", exists(), "/srv/app.sock"},
		{"environment over file", []string{"--config", file}, "/y.sock", exists(), "/y.sock"},
		{"packaged when installed", nil, "", exists(packagedSocket), packagedSocket},
		{"local first", nil, "", exists(packagedSocket, "./fanoutd.sock"), "./fanoutd.sock"},
		{"local when nothing exists", nil, "", exists(), "./fanoutd.sock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FANOUTD_SOCKET", tc.env)
			cmd := newPublishCmd()
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := publishSocket(cmd.Flags(), os.Environ(), tc.exists)
			if err != nil || got != tc.want {
				t.Fatalf("publishSocket = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestDevLogsRefusalsAndUnknownEnvironment runs `fanoutd --dev` as a
// process: a misspelt FANOUTD_* variable is warned about at start, and a
// refused upgrade is in the log at dev mode's default level (it used to be
// logged at debug only, below the default info even with --dev).
func TestDevLogsRefusalsAndUnknownEnvironment(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "--dev", "--listen", "127.0.0.1:0", "--socket", filepath.Join(t.TempDir(), "f.sock"))
	cmd.Env = append(os.Environ(), childEnv+"=1", "FANOUTD_LISTN=127.0.0.1:1", "FANOUTD_AUTH_HMAC_SECRET=", "FANOUTD_LOG_LEVEL=")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("fanoutd output:\n%s", out.String())
		}
	})
	url, _ := waitBanner(t, out)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer.not-a-token"}}); err == nil {
		_ = c.CloseNow()
		t.Fatal("a bad token was accepted")
	}
	for _, want := range []string{"FANOUTD_LISTN names no configuration key", "upgrade refused"} {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestPackagedSocketPath: publish's fallback, the shipped configuration's
// socket and the README's Go snippet name the same path (the snippet used
// to say /run/fanoutd/api.sock).
func TestPackagedSocketPath(t *testing.T) {
	cfg, err := config.Load(config.Source{File: filepath.Join("..", "..", "systemd", "fanoutd.yaml"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != packagedSocket {
		t.Errorf("the shipped configuration's socket is %s, publish looks for %s", cfg.Socket, packagedSocket)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`ipc\.NewClient\("([^"]+)"\)`).FindAllStringSubmatch(string(readme), -1) {
		if m[1] != packagedSocket && m[1] != config.Default().Socket {
			t.Errorf("README: ipc.NewClient(%q), want the packaged %s or the default %s", m[1], packagedSocket, config.Default().Socket)
		}
	}
}

// TestGenDocs: the manual pages and completions the packages ship come
// from the commands, and are the same bytes on every run with the same
// SOURCE_DATE_EPOCH (the packages are reproducible).
func TestGenDocs(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1796398054")
	var first map[string]string
	for range 2 {
		dir := t.TempDir()
		if out, err := run(context.Background(), "gen-docs", "--dir", dir); err != nil {
			t.Fatalf("gen-docs: %v %s", err, out)
		}
		files := map[string]string{}
		for _, name := range []string{"man1/fanoutd.1", "man1/fanoutd-publish.1", "man1/fanoutd-check-config.1",
			"man1/fanoutd-token.1", "man1/fanoutd-version.1", "completions/fanoutd.bash", "completions/_fanoutd",
			"completions/fanoutd.fish"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[name] = string(b)
		}
		if !strings.Contains(files["man1/fanoutd-publish.1"], `\fB--socket\fP`) ||
			!strings.Contains(files["man1/fanoutd.1"], `"Dec 2026"`) || strings.Contains(files["man1/fanoutd.1"], "gen-docs") {
			t.Fatalf("fanoutd.1:\n%s", files["man1/fanoutd.1"])
		}
		if first != nil && !reflect.DeepEqual(files, first) {
			t.Fatal("two runs wrote different files")
		}
		first = files
	}
}
