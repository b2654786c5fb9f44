package systemd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// listenFdsStart is SD_LISTEN_FDS_START: passed sockets begin at fd 3.
const listenFdsStart = 3

// Listener is one listening socket passed by socket activation.
type Listener struct {
	// Name is the socket unit's FileDescriptorName= (systemd defaults it
	// to the socket unit's name), or "" when LISTEN_FDNAMES is absent.
	Name string
	net.Listener
}

// Listeners returns the listening sockets that the service manager passed
// (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, descriptors
// from 3 on), read through getenv. It returns nil when the process was not
// socket-activated, including when LISTEN_PID names another process (the
// variables were inherited). Each listener is a duplicate, and the passed
// descriptor is closed, so a listener closes like any other; the manager
// keeps its own copy, which is what lets a restart lose no connection
// attempt. Call it once, early: a second call finds the descriptors closed.
//
// Descriptors whose LISTEN_FDNAMES name leave reports belong to someone
// else: the daemon passes handoff.IsHandoffName, whose descriptors
// package handoff's Restore takes from the fd store. They are skipped,
// left open, neither checked nor closed, so socket activation and the fd
// store coexist; a nil leave skips none. Any other passed descriptor that
// is not a listening stream socket is an error naming it, and none of
// Listeners' descriptors is left open.
func Listeners(getenv func(string) string, leave func(name string) bool) ([]Listener, error) {
	return listeners(getenv, os.Getpid(), listenFdsStart, leave)
}

func listeners(getenv func(string) string, pid, first int, leave func(string) bool) ([]Listener, error) {
	if leave == nil {
		leave = func(string) bool { return false }
	}
	n, err := passedCount(getenv, pid)
	if err != nil || n == 0 {
		return nil, err
	}
	names := strings.Split(getenv("LISTEN_FDNAMES"), ":")
	if len(names) != n {
		names = make([]string, n)
	}
	var lns []Listener
	for i := range n {
		fd := first + i
		if leave(names[i]) {
			continue
		}
		ln, err := fileListener(fd, names[i])
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			for rest := i + 1; rest < n; rest++ {
				if !leave(names[rest]) {
					_ = syscall.Close(first + rest)
				}
			}
			return nil, err
		}
		lns = append(lns, Listener{Name: names[i], Listener: ln})
	}
	return lns, nil
}

// passedCount is LISTEN_FDS when LISTEN_PID is this process, else 0.
func passedCount(getenv func(string) string, pid int) (int, error) {
	p := getenv("LISTEN_PID")
	if p == "" {
		return 0, nil
	}
	lpid, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("%w: LISTEN_PID=%q", ErrMalformedEnv, p)
	}
	if lpid != pid {
		return 0, nil
	}
	s := getenv("LISTEN_FDS")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: LISTEN_FDS=%q", ErrMalformedEnv, s)
	}
	return n, nil
}

// fileListener turns passed descriptor fd into a net.Listener (a
// non-blocking duplicate) and closes fd.
func fileListener(fd int, name string) (net.Listener, error) {
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), name)
	defer func() { _ = f.Close() }()
	// net.FileListener takes a connected or unbound socket too; Accept
	// would then fail on every call. Ask the kernel instead.
	if on, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || on == 0 {
		return nil, fmt.Errorf("systemd: passed descriptor %d (%q) is not a listening socket (ListenStream= with Accept=no is needed)", fd, name)
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("systemd: passed descriptor %d (%q) is not a listening stream socket: %w", fd, name, err)
	}
	return ln, nil
}
