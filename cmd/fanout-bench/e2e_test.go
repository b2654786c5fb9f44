package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/loadgen"
)

// TestBinaryEndToEnd runs the command as a user does (flags, secret in the
// environment, --json), with the re-executed worker processes, against an
// in-process daemon.
func TestBinaryEndToEnd(t *testing.T) {
	const secret = "e2e-secret-0123456789-0123456789-abc"
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Socket = filepath.Join(t.TempDir(), "fanoutd.sock")
	cfg.Auth.HMACSecret = secret
	srv, err := fanoutd.New(fanoutd.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	cmd := exec.Command(os.Args[0], "--url", "ws://"+srv.Addr().String()+"/ws", "--socket", cfg.Socket,
		"--conns", "40", "--procs", "2", "--channels", "4", "--rate", "200", "--batch", "2",
		"--duration", "1s", "--label", "e2e", "--json")
	cmd.Env = append(os.Environ(), asMainEnv+"=1", secretEnv+"="+secret)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Logf("stderr:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("fanout-bench: %v", err)
	}
	var rep loadgen.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Label != "e2e" || rep.Procs != 2 || rep.Received != 40*200/4*1 || rep.Lost != 0 || !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(stderr.String(), "deliveries") || !strings.Contains(stderr.String(), "publish ") {
		t.Fatal("the table and progress belong on stderr with --json")
	}
}
