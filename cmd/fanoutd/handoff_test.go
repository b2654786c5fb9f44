package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/internal/fakesystemd"
)

// handOffClients is how many clients the hand-off tests hold: 2,000, or
// $FANOUTD_HANDOFF_CLIENTS (make handoff-scale: 18,000).
func handOffClients(t *testing.T) int {
	if v := os.Getenv("FANOUTD_HANDOFF_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FANOUTD_HANDOFF_CLIENTS=%q", v)
		}
		return n
	}
	return 2000
}

// Channels and publish rate of the hand-off tests: 1,000 events/s spread
// over 100 channels.
const (
	handOffChannels = 100
	handOffRate     = 1000
)

// handOffDaemon is a fanoutd process started by a hand-off test. Its
// output goes to a file: the process it hands over to inherits it and
// outlives it, and a pipe would keep Wait waiting for that one too.
type handOffDaemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    string
	config string
	ws     string // ws://…/ws
	socket string
	done   chan error
}

// newHandOffDaemon writes the configuration of a daemon on a free port and
// a socket in a temporary directory; start or startUnder runs it.
func newHandOffDaemon(t *testing.T) *handOffDaemon {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	d := &handOffDaemon{t: t, log: filepath.Join(dir, "fanoutd.log"), config: filepath.Join(dir, "fanoutd.yaml"),
		ws: "ws://" + addr + "/ws", socket: filepath.Join(dir, "api.sock")}
	writeFile(t, d.config, "listen: "+addr+"\nsocket: "+d.socket+"\nlog_level: info\n"+
		"auth:\n  hmac_secret: "+processSecret+"\nhistory:\n  size: 5000\n")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("fanoutd output:\n%s", b)
		}
	})
	return d
}

// start runs the daemon (this test binary as fanoutd) with env added to
// its environment, and waits until it serves.
func (d *handOffDaemon) start(env ...string) {
	d.t.Helper()
	d.run(d.command(env...), func(cmd *exec.Cmd) error { return cmd.Start() })
}

// startUnder runs the daemon as m's service, as systemd would start it.
func (d *handOffDaemon) startUnder(m *fakesystemd.Manager) {
	d.t.Helper()
	d.run(d.command(), func(cmd *exec.Cmd) error { return m.Start(cmd) })
}

func (d *handOffDaemon) run(cmd *exec.Cmd, start func(*exec.Cmd) error) {
	d.t.Helper()
	d.cmd, d.done = cmd, make(chan error, 1)
	if err := start(cmd); err != nil {
		d.t.Fatal(err)
	}
	done := d.done
	go func() { done <- cmd.Wait() }()
	d.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-done
		done <- err
	})
	d.waitServing()
}

func (d *handOffDaemon) command(env ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		d.t.Fatal(err)
	}
	out, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { _ = out.Close() })
	cmd := exec.Command(self, "--config", d.config)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	cmd.Stdout, cmd.Stderr = out, out
	return cmd
}

// handOffLines are the daemons' log lines about the hand-off (with their
// phases), for the test's log.
func (d *handOffDaemon) handOffLines() string {
	b, _ := os.ReadFile(d.log)
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, `"msg":"hand-off`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// waitServing waits until the publish socket answers.
func (d *handOffDaemon) waitServing() {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", d.socket); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatal("fanoutd did not start")
}

// exited waits for the process to exit 0.
func (d *handOffDaemon) exited() {
	d.t.Helper()
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			d.t.Fatalf("fanoutd exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Fatal("the old fanoutd did not exit after the hand-off")
	}
}

// upgraded parses `fanoutd upgrade`'s answer and makes sure the new
// process is stopped at cleanup.
func upgraded(t *testing.T, out string) (oldPID, newPID int) {
	t.Helper()
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "upgraded: pid %d -> pid %d", &oldPID, &newPID); err != nil {
		t.Fatalf("fanoutd upgrade said %q: %v", out, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(newPID, syscall.SIGKILL)
		for range 100 { // bounded: a killed process is gone within milliseconds
			if syscall.Kill(newPID, 0) != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return oldPID, newPID
}

// TestUpgradeKeepsEveryClient: `fanoutd upgrade` under a publisher at
// 1,000 events/s hands 2,000 subscribed WebSockets to a new process; no
// client sees a close, every event arrives once, in order, at continuous
// positions, and the new process's memory is within 10% of the old one's.
func TestUpgradeKeepsEveryClient(t *testing.T) {
	n := handOffClients(t)
	d := newHandOffDaemon(t)
	d.start()
	f := startFleet(t, d.ws, processSecret, n, handOffChannels)
	p := startPublisher(t, d.socket, handOffChannels, handOffRate)
	time.Sleep(time.Second)
	rssOld, err := rssKiB(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := run(ctx, "upgrade", "--socket", d.socket)
	if err != nil {
		t.Fatalf("fanoutd upgrade: %v\n%s", err, out)
	}
	took := time.Since(start)
	oldPID, newPID := upgraded(t, out)
	if oldPID != d.cmd.Process.Pid || newPID == oldPID {
		t.Fatalf("upgrade said pid %d -> %d; the daemon was %d", oldPID, newPID, d.cmd.Process.Pid)
	}
	d.exited()
	time.Sleep(time.Second) // publishing on, to the new process
	if err := p.finish(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	lag := f.verify(p)
	rssNew, err := rssKiB(newPID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients: %s; upgrade command %s; longest publish→deliver %s; longest publish request %s; RSS old %d KiB, new %d KiB",
		n, strings.TrimSpace(out), took.Round(time.Millisecond), lag.Round(time.Millisecond),
		time.Duration(p.maxRTT.Load()).Round(time.Millisecond), rssOld, rssNew)
	t.Log(d.handOffLines())
	checkRSS(t, n, rssOld, rssNew)
}

// upgradeFailEnv makes the new process of an upgrade fail (TestMain):
// "exit" at start, "refuse" the image as one it cannot read.
const upgradeFailEnv = "FANOUTD_TEST_UPGRADE_FAIL"

// TestFailedUpgradeKeepsEveryClient: a new binary that exits at start, or
// refuses the image, leaves every client with the old process, which serves
// on; `fanoutd upgrade` says why and fails.
func TestFailedUpgradeKeepsEveryClient(t *testing.T) {
	for _, mode := range []struct{ name, want string }{
		{"exit", "did not start"},
		{"refuse", "test: image version 99 is not one this binary reads"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			d := newHandOffDaemon(t)
			d.start(upgradeFailEnv + "=" + mode.name)
			f := startFleet(t, d.ws, processSecret, 200, 10)
			p := startPublisher(t, d.socket, 10, 200)
			time.Sleep(300 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := run(ctx, "upgrade", "--socket", d.socket)
			if err == nil || !strings.Contains(err.Error(), mode.want) {
				t.Fatalf("fanoutd upgrade = %v (%s), want an error saying %q", err, out, mode.want)
			}
			time.Sleep(300 * time.Millisecond)
			if err := p.finish(); err != nil {
				t.Fatalf("publisher: %v", err)
			}
			f.verify(p)
			select {
			case err := <-d.done:
				t.Fatalf("the old process exited: %v", err)
			default:
			}
		})
	}
}

// TestRestartThroughFDStoreKeepsEveryClient: under a service manager with
// a descriptor store, SIGTERM stores every connection, the listeners and
// the state; the next start takes them back. Under a publisher at 1,000
// events/s, 2,000 clients see no close and every event once, in order, at
// continuous positions; the store is emptied once the new process owns
// everything.
func TestRestartThroughFDStoreKeepsEveryClient(t *testing.T) {
	n := handOffClients(t)
	m := fakesystemd.New(t, fakesystemd.Options{StoreMax: n + 64})
	d := newHandOffDaemon(t)
	d.startUnder(m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.WaitState(ctx, "READY=1"); err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, d.ws, processSecret, n, handOffChannels)
	p := startPublisher(t, d.socket, handOffChannels, handOffRate)
	time.Sleep(time.Second)
	oldPID := d.cmd.Process.Pid
	rssOld, err := rssKiB(oldPID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.exited()
	stopped := time.Since(start)
	for range 500 { // the manager reads the datagrams after the process sent them; the image comes last
		if m.Stored()[handoff.StateName] == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := m.Stored()[handoff.ConnName]; got != n {
		t.Fatalf("%d connections stored, want %d (store: %v)", got, n, m.Stored())
	}
	d.startUnder(m)
	if err := m.WaitState(ctx, "READY=1"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	if err := p.finish(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	lag := f.verify(p)
	if left := m.Stored(); left[handoff.ConnName] != 0 || left[handoff.StateName] != 0 {
		t.Errorf("the store still holds %v after the new process took over", left)
	}
	rssNew, err := rssKiB(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients: old process stored and exited in %s, new one ready after %s; longest publish→deliver %s; longest publish request %s; RSS old %d KiB, new %d KiB",
		n, stopped.Round(time.Millisecond), took.Round(time.Millisecond), lag.Round(time.Millisecond),
		time.Duration(p.maxRTT.Load()).Round(time.Millisecond), rssOld, rssNew)
	t.Log(d.handOffLines())
	checkRSS(t, n, rssOld, rssNew)
}

// checkRSS: the new process holds the same connections in no more than
// 110% of the old one's memory. Below 5,000 connections a process's
// runtime is most of its RSS, and the same process measured twice moves
// by ±2 MiB: there the bound has 2 MiB more. Not under the race detector,
// whose shadow memory the two processes do not grow alike (make test runs
// these tests once more without it: test-handoff).
func checkRSS(t *testing.T, conns, old, new int) {
	t.Helper()
	if raceEnabled {
		t.Logf("RSS not compared under the race detector (old %d KiB, new %d KiB)", old, new)
		return
	}
	bound := old * 11 / 10
	if conns < 5000 {
		bound += 2048
	}
	if new > bound {
		t.Errorf("RSS of the new process %d KiB, over %d KiB (110%% of the old one's %d KiB)", new, bound, old)
	}
}

// TestUpgradeUnderAServiceManager: `fanoutd upgrade` of a daemon that a
// service manager runs tells the manager the new process is the main one
// (MAINPID=), which then says READY=1 itself; its clients stay.
func TestUpgradeUnderAServiceManager(t *testing.T) {
	m := fakesystemd.New(t)
	d := newHandOffDaemon(t)
	d.startUnder(m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.WaitState(ctx, "READY=1"); err != nil {
		t.Fatal(err)
	}
	f := startFleet(t, d.ws, processSecret, 100, 10)
	p := startPublisher(t, d.socket, 10, 100)
	out, err := run(ctx, "upgrade", "--socket", d.socket)
	if err != nil {
		t.Fatalf("fanoutd upgrade: %v\n%s", err, out)
	}
	_, newPID := upgraded(t, out)
	if err := m.WaitState(ctx, "MAINPID="+strconv.Itoa(newPID)); err != nil {
		t.Fatalf("the manager was not told the new main process: %v", err)
	}
	if err := m.WaitState(ctx, "READY=1"); err != nil {
		t.Fatalf("the new process did not say READY=1: %v", err)
	}
	d.exited()
	if err := p.finish(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	f.verify(p)
}
