package handoff

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// notifyTimeout bounds one datagram to the service manager: the socket
// blocks while the manager's queue is full.
const notifyTimeout = 10 * time.Second

// notifier sends sd_notify datagrams, with descriptors, on one unconnected
// socket to the manager's address ("@…" is the abstract namespace).
type notifier struct {
	fd   int
	addr unix.Sockaddr
}

func dialNotify(socket string) (*notifier, error) {
	if socket == "" {
		return nil, ErrNoNotifySocket
	}
	name := socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("handoff: notify socket: %w", err)
	}
	tv := unix.NsecToTimeval(notifyTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("handoff: notify socket: %w", err)
	}
	return &notifier{fd: fd, addr: &unix.SockaddrUnix{Name: name}}, nil
}

// send writes state with fds attached (at most maxFDsPerMsg).
func (n *notifier) send(state string, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		err := unix.Sendmsg(n.fd, []byte(state), oob, n.addr, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("handoff: notify %q with %d descriptors: %w", state, len(fds), err)
		}
		return nil
	}
}

func (n *notifier) close() { _ = unix.Close(n.fd) }
