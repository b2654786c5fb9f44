package natstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/cputime"
)

// Process is a nats-server running as its own process, as operators run
// it: the benchmarks use it so that the server's CPU is not the test
// process's and is measured apart (CPU). The binary is built from the
// nats-server module this repository pins (go.mod), so it is the same
// server the in-process Server runs.
type Process struct {
	cmd *exec.Cmd
	URL string
}

// StartProcess builds nats-server (cached by Go's build cache after the
// first time) and runs it with JetStream on a free loopback port, its
// store in a temporary folder; cleanup kills it.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(gocmd, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	build.Dir = moduleRoot() // the version go.mod pins, wherever the test binary runs
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building nats-server: %v\n%s", err, out)
	}
	port := freePort(t)
	p := &Process{URL: "nats://127.0.0.1:" + strconv.Itoa(port)}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "nats-server.log") // not the benchmark's output
	p.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", filepath.Join(dir, "store"), "-l", logFile)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", p.URL[len("nats://"):], time.Second); err == nil {
			_ = c.Close()
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(logFile)
	t.Fatalf("nats-server on port %d did not accept connections within 10 s; its log:\n%s", port, log)
	return nil
}

// CPU is the server process's user and system CPU time so far.
func (p *Process) CPU() (time.Duration, error) {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0, errors.New("natstest: server not running")
	}
	return cputime.Process(p.cmd.Process.Pid)
}

func (p *Process) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// moduleRoot is the repository's root, from this file's place in it.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// freePort asks the kernel for a loopback port no one listens on.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(fmt.Errorf("natstest: %w", err))
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
