package fakesystemd

import (
	"errors"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// PassFds puts a duplicate of each descriptor at consecutive free numbers,
// as the service manager does from 3 on, and returns the first: a test
// sets LISTEN_FDS and LISTEN_PID over them for code that reads passed
// descriptors in its own process. Numbers from 200 on are used, because
// 3, 4 … belong to the test process.
func PassFds(t testing.TB, fds ...int) int {
	t.Helper()
	first := 200
	for !free(first, len(fds)) {
		first += 10
	}
	for i, fd := range fds {
		if err := unix.Dup3(fd, first+i, 0); err != nil {
			t.Fatal(err)
		}
	}
	return first
}

func free(first, n int) bool {
	for fd := first; fd < first+n; fd++ {
		if IsOpen(fd) {
			return false
		}
	}
	return true
}

// IsOpen reports whether fd is an open descriptor of this process.
func IsOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return !errors.Is(err, unix.EBADF)
}

// RawFd is a socket's descriptor, valid while the socket is open.
func RawFd(t testing.TB, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		t.Fatal(err)
	}
	return fd
}
