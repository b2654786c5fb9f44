package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFlagsDefaultsAndEnvSecret(t *testing.T) {
	f, err := parseFlags(nil, io.Discard, env(map[string]string{secretEnv: "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	c := f.cfg
	if c.URL != "ws://127.0.0.1:8080/ws" || c.Socket != "./fanoutd.sock" || c.Payload != 200 || c.Batch != 1 ||
		c.Duration != 10*time.Second || c.Drain != 2*time.Second || c.Procs != 0 || c.Secret != "from-env" || f.worker ||
		c.SubscribeInURL {
		t.Fatalf("defaults %+v", f)
	}
}

func TestFlagsParse(t *testing.T) {
	args := strings.Fields("--url ws://127.0.0.2:9/ws --socket /s --secret flag-secret --conns 10000 --channels 10000 " +
		"--rate 1000 --batch 5 --payload 300 --duration 3s --drain 1s --connect-rate 500 --procs 2 --source-ips 3 " +
		"--pid 42 --label x --json --subscribe-in-url")
	f, err := parseFlags(args, io.Discard, env(map[string]string{secretEnv: "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	c := f.cfg
	if c.URL != "ws://127.0.0.2:9/ws" || c.Socket != "/s" || c.Secret != "flag-secret" || c.Conns != 10000 ||
		c.Channels != 10000 || c.Rate != 1000 || c.Batch != 5 || c.Payload != 300 || c.Duration != 3*time.Second ||
		c.Drain != time.Second || c.ConnectRate != 500 || c.Procs != 2 || c.SourceIPs != 3 || c.PID != 42 ||
		c.Label != "x" || !f.json || !c.SubscribeInURL {
		t.Fatalf("parsed %+v", f)
	}
}

func TestFlagsErrors(t *testing.T) {
	if _, err := parseFlags([]string{"--conns", "many"}, io.Discard, env(nil)); err == nil {
		t.Error("bad number accepted")
	}
	if _, err := parseFlags([]string{"extra"}, io.Discard, env(nil)); err == nil {
		t.Error("positional argument accepted")
	}
	if _, err := parseFlags([]string{"--help"}, io.Discard, env(nil)); !errors.Is(err, pflag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestWorkerFlagIsHidden(t *testing.T) {
	var help strings.Builder
	_, _ = parseFlags([]string{"--help"}, &help, env(nil))
	if strings.Contains(help.String(), "--"+workerFlag) || !strings.Contains(help.String(), "--connect-rate") {
		t.Fatalf("help:\n%s", help.String())
	}
}

func TestRunRefusesRemoteTarget(t *testing.T) {
	var stderr strings.Builder
	code := run([]string{"--url", "ws://8.8.8.8:80/ws", "--secret", strings.Repeat("s", 32)},
		strings.NewReader(""), io.Discard, &stderr, env(nil))
	if code != exitError || !strings.Contains(stderr.String(), "loopback") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestFlagsCentrifugo(t *testing.T) {
	f, err := parseFlags(strings.Fields("--protocol centrifugo --url ws://127.0.0.1:8000/connection/websocket "+
		"--api-url http://127.0.0.1:8000 --api-key k --pid 7"), io.Discard, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.cfg; c.Protocol != "centrifugo" || c.APIURL != "http://127.0.0.1:8000" || c.APIKey != "k" || c.PID != 7 {
		t.Fatalf("parsed %+v", c)
	}
	if f, _ := parseFlags(nil, io.Discard, env(nil)); f.cfg.Protocol != "fanoutd" {
		t.Errorf("default protocol %q", f.cfg.Protocol)
	}
}
