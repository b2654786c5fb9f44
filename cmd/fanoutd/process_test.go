package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

// childEnv makes this test binary run as fanoutd (TestMain).
const childEnv = "FANOUTD_TEST_RUN_MAIN"

const processSecret = "process-test-secret-0123456789abcdef"

// manager plays systemd for daemons run as processes: it owns the
// listening sockets and the notify socket, and passes them the way
// systemd does.
type manager struct {
	t      *testing.T
	dir    string
	tcp    *net.TCPListener
	unix   *net.UnixListener
	files  []*os.File // what is passed as fds 3 and 4
	notify *net.UnixConn
	config string
}

func newManager(t *testing.T) *manager {
	t.Helper()
	m := &manager{t: t, dir: t.TempDir()}
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	m.tcp = tcp
	unix, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(m.dir, "fanoutd.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	m.unix = unix
	for _, l := range []interface{ File() (*os.File, error) }{tcp, unix} {
		f, err := l.File()
		if err != nil {
			t.Fatal(err)
		}
		m.files = append(m.files, f)
	}
	m.notify, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(m.dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	m.config = filepath.Join(m.dir, "fanoutd.yaml")
	writeFile(t, m.config, "listen: "+m.wsAddr()+"\nsocket: "+m.socket()+"\nlog_level: info\n"+
		"auth:\n  hmac_secret: "+processSecret+"\n")
	t.Cleanup(func() {
		for _, f := range m.files {
			_ = f.Close()
		}
		_ = m.tcp.Close()
		_ = m.unix.Close()
		_ = m.notify.Close()
	})
	return m
}

func (m *manager) wsAddr() string { return m.tcp.Addr().String() }
func (m *manager) socket() string { return m.unix.Addr().String() }

// process is one fanoutd process.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// start runs fanoutd with the sockets as fds 3 and 4, named as a socket
// unit names them, with the watchdog at watchdog (0: off). LISTEN_PID must
// be the daemon's own pid, known only once it runs: sh sets it to its own
// and execs the daemon, which keeps the pid.
func (m *manager) start(watchdog time.Duration) *process {
	m.t.Helper()
	self, err := os.Executable()
	if err != nil {
		m.t.Fatal(err)
	}
	script := `export LISTEN_PID=$$ WATCHDOG_PID=$$; exec "$0" "$@"`
	cmd := exec.Command("/bin/sh", "-c", script, self, "--config", m.config)
	cmd.Env = append(os.Environ(), childEnv+"=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=websocket:publish",
		"NOTIFY_SOCKET="+m.notify.LocalAddr().String())
	if watchdog > 0 {
		cmd.Env = append(cmd.Env, "WATCHDOG_USEC="+strconv.FormatInt(watchdog.Microseconds(), 10))
	}
	cmd.ExtraFiles = m.files
	p := &process{t: m.t, cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	m.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if m.t.Failed() {
			m.t.Logf("fanoutd output:\n%s", p.out.String())
		}
	})
	return p
}

// expect reads sd_notify datagrams until one equals want (or starts with
// it, when want ends in "*"), and returns those before it.
func (m *manager) expect(want string) []string {
	m.t.Helper()
	var before []string
	buf := make([]byte, 4096)
	for {
		_ = m.notify.SetReadDeadline(time.Now().Add(30 * time.Second))
		k, err := m.notify.Read(buf)
		if err != nil {
			m.t.Fatalf("waiting for %s (got %q): %v", want, before, err)
		}
		got := string(buf[:k])
		if got == want || (strings.HasSuffix(want, "*") && strings.HasPrefix(got, strings.TrimSuffix(want, "*"))) {
			return before
		}
		before = append(before, got)
	}
}

// signal sends sig and, for SIGTERM, waits for a clean exit.
func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	if sig == syscall.SIGTERM {
		p.wait()
	}
}

// wait waits for the process to exit, and fails the test unless it exits 0.
func (p *process) wait() {
	p.t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			p.t.Fatalf("fanoutd exited with %v\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("fanoutd did not exit after SIGTERM")
	}
}

// subscriber is a WebSocket client subscribed to one channel.
type subscriber struct {
	t *testing.T
	c *websocket.Conn
}

// subscribe completes a WebSocket on a connection dialled by dial (the
// listener's address when nil) and subscribes it to channel.
func (m *manager) subscribe(channel string, dial func(context.Context, string, string) (net.Conn, error)) *subscriber {
	m.t.Helper()
	tok, err := jwtauth.Mint([]byte(processSecret), "u1", []string{channel}, time.Hour, time.Now())
	if err != nil {
		m.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := &websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + tok}}
	if dial != nil {
		o.HTTPClient = preDialedClient(dial)
	}
	c, _, err := websocket.Dial(ctx, "ws://"+m.wsAddr()+"/ws", o)
	if err != nil {
		m.t.Fatalf("WebSocket: %v", err)
	}
	m.t.Cleanup(func() { _ = c.CloseNow() })
	s := &subscriber{t: m.t, c: c}
	s.expect(`"welcome"`)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"subscribe","channel":"`+channel+`"}`)); err != nil {
		m.t.Fatal(err)
	}
	s.expect(`"subscribed"`)
	return s
}

// hangUp drops the connection. A client that is not reading would leave
// the daemon's close handshake unanswered, and its shutdown waiting.
func (s *subscriber) hangUp() { _ = s.c.CloseNow() }

// expect reads the next message and checks that it contains want.
func (s *subscriber) expect(want string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, b, err := s.c.Read(ctx)
	if err != nil {
		s.t.Fatalf("waiting for %s: %v", want, err)
	}
	if !strings.Contains(string(b), want) {
		s.t.Fatalf("got %s, want %s", b, want)
	}
}
