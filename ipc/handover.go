package ipc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// HandOver prepares the listener for another process to serve it (a
// restart or an upgrade that keeps every client, see the root's
// handover.go): it returns a duplicate of the listening socket's
// descriptor, and makes Close leave the socket file in place, since the
// other process serves it from now on. Close still closes this process's
// copy, and with it the fast path; connections waiting in the backlog stay
// there for the other process. Call it before Close.
func (l *UnixListener) HandOver() (*os.File, error) {
	f, err := dupListener(l.Listener)
	if err != nil {
		return nil, err
	}
	l.info = nil // Close must not remove the file: see removeIfSame
	return f, nil
}

// AdoptUnixListener is the API listener on a listening Unix socket that
// another process handed over (HandOver's descriptor): f is duplicated, so
// the caller closes it, and the listener owns the socket file at path as
// ListenUnixWith's does (Close removes it while it is still this socket).
func AdoptUnixListener(f *os.File, path string) (*UnixListener, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("ipc: adopt the publish socket: %w", err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		_ = ln.Close()
		return nil, fmt.Errorf("ipc: adopt the publish socket: %w: got %T", ErrNotSocket, ln)
	}
	ul.SetUnlinkOnClose(false) // the file is ours only while it is this socket: Close checks
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&os.ModeSocket == 0 {
		info = nil // gone or replaced: never remove what is there
	}
	return &UnixListener{Listener: ul, path: path, info: info}, nil
}

// dupListener duplicates a listener's descriptor with dup(2) through
// SyscallConn, which, unlike File, leaves the socket non-blocking for the
// copy still serving here.
func dupListener(ln net.Listener) (*os.File, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, errors.New("ipc: the listener has no descriptor to hand over")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup int
	var dupErr error
	if err := rc.Control(func(fd uintptr) { dup, dupErr = syscall.Dup(int(fd)) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("ipc: dup the listener: %w", dupErr)
	}
	syscall.CloseOnExec(dup)
	return os.NewFile(uintptr(dup), "fanoutd-publish"), nil
}
