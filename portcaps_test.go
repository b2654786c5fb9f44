package fanoutd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/ipc"
)

// lowFDChildEnv makes the test binary a daemon process with a low open-file
// limit (see TestMain and runLowFDChild).
const lowFDChildEnv = "FANOUTD_TEST_LOWFD_DIR"

// idleHealthz opens a connection, sends one keep-alive GET /healthz and
// returns the status (0 when the connection was refused or reset) with the
// connection left open, as an idle keep-alive client leaves it.
func idleHealthz(t *testing.T, addr string) (int, net.Conn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, nil
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(nc, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0, nc
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, nc
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nc
}

// TestHTTPOnTheWebSocketPortCountsAgainstTheCaps: /healthz and every other
// route net/http serves on the WebSocket port count against
// limits.max_connections and max_connections_per_ip. With caps of 40 and 5
// per address, 300 idle keep-alive GET /healthz from one address leave 5
// open (before, all 300 stayed open: one goroutine each).
func TestHTTPOnTheWebSocketPortCountsAgainstTheCaps(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Limits.MaxConnections = 40
		c.Limits.MaxConnectionsPerIP = 5
	})
	statuses := map[int]int{}
	for range 300 {
		code, _ := idleHealthz(t, d.addr)
		statuses[code]++
	}
	if statuses[http.StatusOK] != 5 || statuses[http.StatusTooManyRequests] != 295 {
		t.Fatalf("statuses %v: want 5×200 and 295×429", statuses)
	}
	if st := d.srv.Stats().Transport; st.HTTPConns != 5 {
		t.Fatalf("HTTP connections held: %d, want 5", st.HTTPConns)
	}
}

// TestDescriptorsKeptForUpgradesAndTheSocket: a daemon under a 1,024
// descriptor limit (a child process that lowers its own) is sent 1,100 idle
// HTTP connections without a token; an upgrade with a valid token still
// succeeds, and so does a publish on the Unix socket. Before, the idle
// connections took every descriptor and no upgrade got through.
func TestDescriptorsKeptForUpgradesAndTheSocket(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lowFDChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // the child shuts down at EOF
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	// 1,100 idle keep-alive requests, 50 at a time: more than the
	// descriptors the child has.
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			for range next {
				code, _ := idleHealthz(t, addr)
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			}
		})
	}
	for range 1100 {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	t.Logf("1,100 idle GET /healthz: %v", statuses)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", subprotocol(token(t, "ann", "room:*")))
	if err != nil {
		t.Fatalf("upgrade with a valid token beside the idle HTTP connections: %v (%v)", err, resp)
	}
	defer func() { _ = c.CloseNow() }()
	pub := ipc.NewClient(filepath.Join(dir, "fanoutd.sock"))
	defer pub.Close()
	if err := pub.Publish(ctx, "room:1", "hello", map[string]int{"n": 1}); err != nil {
		t.Fatalf("publish on the Unix socket: %v", err)
	}
}

// runLowFDChild is the daemon of TestDescriptorsKeptForUpgradesAndTheSocket:
// it lowers its own open-file limit to 1,024, serves with the defaults (so
// limits.max_connections is derived from that limit), prints its address
// and runs until its standard input closes.
func runLowFDChild(dir string) int {
	lim := syscall.Rlimit{Cur: 1024, Max: 1024}
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil && cur.Max < lim.Max {
		lim.Max = cur.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 1
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Socket = filepath.Join(dir, "fanoutd.sock")
	cfg.Auth.HMACSecret = testSecret
	srv, err := New(Options{Config: cfg})
	if err != nil {
		fmt.Fprintln(os.Stderr, "new:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Printf("listening %s\n", srv.Addr())
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// TestHTTPOnTheWebSocketPortHasDeadlines: a connection handed to net/http
// holds its slot under deadlines: the request head must arrive, and an idle
// keep-alive connection is closed, in bounded time.
func TestHTTPOnTheWebSocketPortHasDeadlines(t *testing.T) {
	d := startDaemon(t)
	if d.srv.tcp == nil {
		t.Fatal("no HTTP server on the WebSocket port")
	}
	if h := d.srv.tcp; h.ReadHeaderTimeout <= 0 || h.IdleTimeout <= 0 || h.ReadTimeout <= 0 {
		t.Fatalf("timeouts: header %v, idle %v, read %v", h.ReadHeaderTimeout, h.IdleTimeout, h.ReadTimeout)
	}
}
