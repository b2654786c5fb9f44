// Package redistest runs a real redis-server for tests: on a free loopback
// port, without persistence, killed at cleanup. Tests that use it fail (not
// skip) when redis-server is missing: CI installs it.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/cputime"
)

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	Addr string
	cmd  *exec.Cmd
	dir  string   // with StartPersistent: where the RDB file lives
	args []string // extra arguments for every (re)start
}

// Start runs redis-server on a free port and waits until it answers PING.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, Addr: freeAddr(t)}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// StartPersistent is Start with RDB snapshots on: nothing is saved on its
// own (save ""), but SAVE or BGSAVE writes dump.rdb in a temporary
// directory, and Restart loads it, as Redis's default persistence does
// after a crash: the data set rolls back to the snapshot.
func StartPersistent(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, Addr: freeAddr(t), dir: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// StartWith is Start with extra redis-server arguments (cluster mode, say),
// kept for every Restart; dir is the working directory ("" for none).
func StartWith(t testing.TB, dir string, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, Addr: freeAddr(t), dir: dir, args: args}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Restart starts the server again on the same port (after Kill): empty,
// or from its last snapshot with StartPersistent.
func (s *Server) Restart() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	path, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redis-server is required (apt-get install redis-server): %v", err)
	}
	// DEBUG (SLEEP, to stall the server) only from loopback, as tests need.
	args := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--enable-debug-command", "local"}
	if s.dir != "" {
		args = append(args, "--dir", s.dir)
	}
	s.cmd = exec.Command(path, append(args, s.args...)...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not answer within 10 s", s.Addr)
}

// Kill ends the server with SIGKILL, as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Signal sends sig (SIGSTOP, SIGCONT) to the server.
func (s *Server) Signal(sig syscall.Signal) {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// send dials the server and sends one inline command; the caller reads
// the reply and closes the connection.
func (s *Server) send(cmd string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Do sends one inline command and returns the first reply line.
func (s *Server) Do(cmd string) (string, error) {
	c, err := s.send(cmd)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }()
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func (s *Server) ping() error {
	r, err := s.Do("PING")
	if err == nil && r != "+PONG" {
		err = fmt.Errorf("PING answered %q", r)
	}
	return err
}

// StartSentinel runs a Redis Sentinel monitoring master as "mymaster" and
// returns its address; cleanup kills it.
func StartSentinel(t testing.TB, master *Server) string {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	mhost, mport, _ := net.SplitHostPort(master.Addr)
	conf := filepath.Join(t.TempDir(), "sentinel.conf") // Sentinel rewrites its file: it must be writable
	body := fmt.Sprintf("port %s\nbind 127.0.0.1\nsentinel monitor mymaster %s %s 1\n", port, mhost, mport)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is required: %v", err)
	}
	cmd := exec.Command(path, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &Server{t: t, Addr: addr}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := s.Do("SENTINEL get-master-addr-by-name mymaster"); err == nil && strings.HasPrefix(r, "*2") {
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sentinel on %s did not know the master within 10 s", addr)
	return ""
}

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// CPU is the server process's user and system CPU time so far, from
// /proc (Linux): benchmarks report what Redis spent per operation next to
// what the daemon did.
func (s *Server) CPU() (time.Duration, error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, errors.New("redistest: server not running")
	}
	return cputime.Process(s.cmd.Process.Pid)
}
