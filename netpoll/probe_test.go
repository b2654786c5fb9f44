package netpoll

import (
	"context"
	"errors"
	"testing"
	"time"
)

// stuckHandler's sessions block their worker in Message until release is
// closed: a handler bug that a watchdog must notice.
type stuckHandler struct {
	entered chan struct{}
	release chan struct{}
}

func (h *stuckHandler) Accept(*Conn, *Request) (Session, error) { return stuckSession{h}, nil }

type stuckSession struct{ h *stuckHandler }

func (s stuckSession) Message(bool, []byte) {
	s.h.entered <- struct{}{}
	<-s.h.release
}

func (stuckSession) Closed(int) {}

func probeWithin(srv *Server, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return srv.Probe(ctx)
}

func TestProbeAnswersWhileWorkersServe(t *testing.T) {
	srv, _, addr := startServer(t, Options{Workers: 2})
	c, _ := connect(t, addr)
	for i := range 3 {
		c.Write(text("hi"))
		if err := probeWithin(srv, 10*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	// Concurrent probes share answers; none is left waiting.
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() { errs <- probeWithin(srv, 10*time.Second) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent probe: %v", err)
		}
	}
}

// With the only worker stuck, the probe must fail, and pass again once the
// worker is free: a watchdog fed by it stops pinging exactly while the
// transport cannot serve.
func TestProbeFailsWhileTheWorkerIsStuck(t *testing.T) {
	h := &stuckHandler{entered: make(chan struct{}), release: make(chan struct{})}
	srv, addr := serveWith(t, Options{Workers: 1, Handler: h})
	released := false
	defer func() {
		if !released {
			close(h.release)
		}
	}()
	c, _ := connect(t, addr)
	c.Write(text("block"))
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the message never reached the session")
	}
	// 200 ms is not a measurement: nothing can answer while the worker
	// blocks, however long the probe waits.
	if err := probeWithin(srv, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("probe with the only worker stuck: %v, want deadline exceeded", err)
	}
	close(h.release)
	released = true
	if err := probeWithin(srv, 10*time.Second); err != nil {
		t.Fatalf("probe after the worker came back: %v", err)
	}
}

func TestProbeAfterShutdown(t *testing.T) {
	srv, err := NewServer(Options{Handler: &testHandler{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := probeWithin(srv, 10*time.Second); err != nil {
		t.Fatalf("probe of a server without listeners: %v", err)
	}
	if err := srv.Shutdown(context.Background(), CloseGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	if err := probeWithin(srv, 10*time.Second); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("probe after shutdown: %v, want ErrServerClosed", err)
	}
}
