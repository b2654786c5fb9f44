package ipc

import (
	"fmt"
	"net"
	"os"
)

// KeepFile makes Close leave the socket file in place: another process
// serves the socket from now on (a restart or an upgrade that keeps every
// client, see the root's handover.go). Close still closes this process's
// copy, and with it the fast path; connections waiting in the backlog stay
// there for the other process. Call it before Close.
func (l *UnixListener) KeepFile() { l.info = nil }

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
