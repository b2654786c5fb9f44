package netpoll

import (
	"context"
	"sync"
	"sync/atomic"

	mepoll "github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"
)

// prober answers Server.Probe. Its eventfd joins the epoll set on the
// first Probe, so a server nobody probes pays nothing.
type prober struct {
	mu     sync.Mutex // serialises Probe's setup, waiter and writes with close
	fd     int        // the eventfd, once open
	open   bool
	closed bool

	// mark is the run-queue entry of a probe: workers recognise it by its
	// address (constant, so reading it needs no lock) and answer instead of
	// running it as a connection.
	mark   Conn
	queued atomic.Bool                   // mark is on the run queue
	waiter atomic.Pointer[chan struct{}] // closed by the worker that answers
}

// Probe proves that the transport still serves: an event on a descriptor
// in the epoll set must wake the epoll goroutine, which queues the probe,
// and a worker must take it from the run queue, behind the connections
// already waiting there. A stuck epoll loop, or workers that are all
// stuck, leave Probe waiting until ctx ends; it then returns ctx.Err(). It
// returns ErrServerClosed after Shutdown. A watchdog calls it, one call at
// a time; concurrent calls are safe, and one answer serves them all.
func (s *Server) Probe(ctx context.Context) error {
	done, err := s.probe.start(s)
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-s.stop:
		return ErrServerClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start signals the eventfd and returns the channel that the answering
// worker closes: a new one, or the one that an unanswered probe still
// waits on.
func (p *prober) start(s *Server) (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || s.isClosing() {
		return nil, ErrServerClosed
	}
	if !p.open {
		if err := p.register(s); err != nil {
			return nil, err
		}
	}
	w := p.waiter.Load()
	if w == nil {
		ch := make(chan struct{})
		w = &ch
		p.waiter.Store(w)
	}
	one := [8]byte{1} // eventfd counters are host-endian; only non-zero matters
	if _, err := unix.Write(p.fd, one[:]); err != nil {
		return nil, err
	}
	return *w, nil
}

func (p *prober) register(s *Server) error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	err = s.ep.Add(fd, mepoll.EPOLLIN|mepoll.EPOLLET, func(ev mepoll.EpollEvent) {
		if ev&mepoll.EPOLLIN == 0 {
			return // the epoll set is closing
		}
		var buf [8]byte
		_, _ = unix.Read(fd, buf[:]) // reset the counter; EAGAIN is fine
		if p.queued.CompareAndSwap(false, true) {
			s.runq <- &p.mark // runq has room for it: see newRunq
		}
	})
	if err != nil {
		_ = unix.Close(fd)
		return err
	}
	p.fd, p.open = fd, true
	return nil
}

// answer is run by a worker that took the probe's mark from the run queue.
func (p *prober) answer() {
	p.queued.Store(false)
	if w := p.waiter.Swap(nil); w != nil {
		close(*w)
	}
}

// close releases the eventfd once the epoll set is closed.
func (p *prober) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.open {
		_ = unix.Close(p.fd)
	}
}
