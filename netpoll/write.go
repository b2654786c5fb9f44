package netpoll

import (
	"syscall"
	"unsafe"
)

// flush writes the queue with writev until it is empty or the socket would
// block; in the latter case EPOLLOUT (edge-triggered, registered once) brings
// the connection back. The queue lock is not held during the system call, so
// publishers keep appending while the worker writes; the frames the call
// uses stay fixed until consume (see writeQueue). Frames queued during a
// write that took everything wait for the connection's next turn, behind the
// others: a connection its publisher keeps refilling cannot hold the worker.
func (w *worker) flush(c *Conn) {
	for {
		n, total := w.fillIovec(c)
		if n == 0 {
			w.flushed(c)
			return
		}
		written, errno := writev(c.Fd(), w.iov[:n])
		clear(w.iov[:n]) // do not keep frames alive from the scratch array
		if errno != 0 && errno != syscall.EAGAIN && errno != syscall.EINTR {
			w.destroy(c)
			return
		}
		c.mu.Lock()
		replaced, oldest := c.q.consume(written) // 0 after EAGAIN or EINTR: it still releases what fill fixed
		more := !c.q.empty()
		c.mu.Unlock()
		if replaced != 0 {
			w.s.stats.conflated.Add(uint64(replaced))
		}
		if oldest != 0 {
			w.sampleLatency(oldest)
		}
		if errno == syscall.EAGAIN {
			return
		}
		if errno == syscall.EINTR {
			continue
		}
		w.s.stats.bytesOut.Add(uint64(written))
		w.s.stats.writes.Add(1)
		switch {
		case !more:
			w.flushed(c)
			return
		case written == total:
			c.pending.Or(pendWrite)
			return
		}
		// A short write: the next writev most likely reports EAGAIN.
	}
}

// fillIovec points the scratch iovecs at the queued frames.
func (w *worker) fillIovec(c *Conn) (n, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.fill(w.iov[:])
}

// flushed runs when the queue is empty: a rejected handshake, a failed
// connection, or a finished closing handshake ends here.
func (w *worker) flushed(c *Conn) {
	c.mu.Lock()
	closing := c.closeCode != 0
	c.mu.Unlock()
	switch {
	case c.flags.has(rejecting):
		w.destroy(c)
	case closing:
		c.flags |= closeSent
		if c.flags.has(peerClosed | closeAfterFlush) {
			w.destroy(c)
		}
	}
}

func writev(fd int, iov []syscall.Iovec) (int, syscall.Errno) {
	r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
