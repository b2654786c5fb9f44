package netpoll

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/wstest"
	"github.com/gobwas/ws"
)

// testHandler accepts every upgrade whose Authorization is not "deny" and
// records the sessions it created.
type testHandler struct {
	mu    sync.Mutex
	conns []*Conn
	sess  []*testSession
	echo  bool
}

func (h *testHandler) Accept(c *Conn, r *Request) (Session, error) {
	if r.Auth == "deny" {
		return nil, &HTTPError{Status: http.StatusUnauthorized, Reason: "denied"}
	}
	s := &testSession{c: c, echo: h.echo, closed: make(chan int, 1), req: *r}
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.sess = append(h.sess, s)
	h.mu.Unlock()
	return s, nil
}

func (h *testHandler) session(t testing.TB, i int) *testSession {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		if i < len(h.sess) {
			s := h.sess[i]
			h.mu.Unlock()
			return s
		}
		h.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("session %d never accepted", i)
	return nil
}

type testSession struct {
	c      *Conn
	echo   bool
	req    Request
	mu     sync.Mutex
	msgs   []string
	closed chan int
}

func (s *testSession) Message(binary bool, p []byte) {
	s.mu.Lock()
	s.msgs = append(s.msgs, fmt.Sprintf("%v:%s", binary, p))
	s.mu.Unlock()
	if s.echo {
		op := ws.OpText
		if binary {
			op = ws.OpBinary
		}
		s.c.Send(AppendFrame(nil, op, p))
	}
}

func (s *testSession) Closed(code int) { s.closed <- code }

func (s *testSession) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func (s *testSession) waitClosed(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.closed:
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("session was never closed")
		return 0
	}
}

// startServer runs a transport on a loopback port and shuts it down at the
// end of the test.
func startServer(t testing.TB, o Options) (*Server, *testHandler, string) {
	t.Helper()
	h, ok := o.Handler.(*testHandler)
	if !ok {
		h = &testHandler{echo: true}
		o.Handler = h
	}
	if o.CloseTimeout == 0 {
		o.CloseTimeout = 500 * time.Millisecond // raw clients do not answer a close
	}
	if o.PingInterval == 0 {
		// The first ping comes at a random time within the interval: one
		// in the middle of a test's frames is noise. Heartbeat tests set
		// their own.
		o.PingInterval = time.Hour
	}
	srv, addr := serveWith(t, o)
	return srv, h, addr
}

// serveWith runs a transport with o as given on a loopback port and shuts
// it down at the end of the test.
func serveWith(t testing.TB, o Options) (*Server, string) {
	t.Helper()
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	// Last (cleanups run in reverse): after Release, Shutdown leaves the
	// listener open for its next owner, and a listener left to its
	// finalizer closes whenever a GC runs, inside another test's count of
	// open descriptors.
	t.Cleanup(func() { _ = ln.Close() })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, CloseGoingAway, "test over")
	})
	return srv, ln.Addr().String()
}

// Short names for the raw client, which lives in internal/wstest.
type rawClient = wstest.Client

var (
	frame          = wstest.Frame
	text           = wstest.Text
	closeBody      = wstest.CloseBody
	upgradeRequest = wstest.UpgradeRequest
)

func dialRaw(t testing.TB, addr string) *rawClient { return wstest.Dial(t, addr) }

func connect(t *testing.T, addr string, extra ...string) (*rawClient, string) {
	return wstest.Connect(t, addr, "/ws", extra...)
}
