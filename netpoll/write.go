package netpoll

import (
	"syscall"
	"unsafe"
)

// flush writes the queue with writev until it is empty or the socket would
// block; in the latter case EPOLLOUT (edge-triggered, registered once) brings
// the connection back. The queue lock is not held during the system call, so
// publishers keep appending while the worker writes.
func (w *worker) flush(c *Conn) {
	for {
		n, total := w.fillIovec(c)
		if n == 0 {
			w.flushed(c)
			return
		}
		written, errno := writev(c.fd, w.iov[:n])
		clear(w.iov[:n]) // do not keep frames alive from the scratch array
		switch errno {
		case 0:
		case syscall.EAGAIN:
			return
		case syscall.EINTR:
			continue
		default:
			w.destroy(c)
			return
		}
		w.s.stats.bytesOut.Add(uint64(written))
		w.s.stats.writes.Add(1)
		c.mu.Lock()
		c.consumeLocked(written)
		c.mu.Unlock()
		if written < total {
			continue // the next writev most likely reports EAGAIN
		}
	}
}

// fillIovec points the scratch iovecs at the queued frames.
func (w *worker) fillIovec(c *Conn) (n, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.out {
		if n == len(w.iov) {
			break
		}
		if i == 0 {
			f = f[c.head:]
		}
		if len(f) == 0 {
			continue // never queued (Queue refuses them); a guard, not a path
		}
		w.iov[n].Base = &f[0]
		w.iov[n].SetLen(len(f))
		n++
		total += len(f)
	}
	return n, total
}

// flushed runs when the queue is empty: a rejected handshake, a failed
// connection, or a finished closing handshake ends here.
func (w *worker) flushed(c *Conn) {
	c.mu.Lock()
	closing := c.closeCode != 0
	c.mu.Unlock()
	switch {
	case c.rejecting:
		w.destroy(c)
	case closing:
		c.closeSent = true
		if c.peerClosed || c.closeAfterFlush {
			w.destroy(c)
		}
	}
}

// consumeLocked drops written bytes from the front of the queue.
func (c *Conn) consumeLocked(written int) {
	k := 0
	for k < len(c.out) && written > 0 {
		rem := len(c.out[k]) - c.head
		if written < rem {
			c.head += written
			c.outBytes -= written
			break
		}
		written -= rem
		c.outBytes -= rem
		c.head = 0
		k++
	}
	n := copy(c.out, c.out[k:])
	clear(c.out[n:])
	c.out = c.out[:n]
	if n == 0 && cap(c.out) > 64 {
		c.out = nil // a burst is over: give the big array back
	}
}

func writev(fd int, iov []syscall.Iovec) (int, syscall.Errno) {
	r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
