package ipc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// probeTimeout bounds the dial that asks whether an existing socket is live.
// A live daemon accepts into its backlog at once, so this is generous.
const probeTimeout = time.Second

// UnixListener is the API's Unix socket listener. It owns the socket file:
// Close removes the file, but only if it is still the one this listener
// created, so a daemon shutting down never deletes its successor's socket.
// Hand it to http.Server.Serve; Close may be called from any goroutine and
// more than once.
type UnixListener struct {
	net.Listener
	path string
	info fs.FileInfo // identity of the file we bound, for os.SameFile

	once     sync.Once
	closeErr error

	// fast is the publish fast path (fastpath.go), set once by
	// NewHTTPServer's BaseContext when a server starts serving this
	// listener; nil: Accept is the socket's.
	fast atomic.Pointer[fastPath]
}

// Accept returns the connections net/http is to serve: all of them, or,
// with the fast path on, those the fast path hands over.
func (l *UnixListener) Accept() (net.Conn, error) {
	if fp := l.fast.Load(); fp != nil {
		return fp.accept()
	}
	return l.Listener.Accept()
}

// enableFastPath turns the fast path on for srv; a second server on the
// same listener gets none.
func (l *UnixListener) enableFastPath(srv *http.Server, base context.Context) {
	fp := newFastPathIdle(srv, base, l.Listener)
	fp.wg.Add(1) // the loop's, until the listener closes: before Close can see fp and wait
	if l.fast.CompareAndSwap(nil, fp) {
		go fp.acceptLoop()
	}
}

// DefaultSocketMode is the socket's mode when ListenUnixOptions.Mode is
// zero: only the daemon's own user may connect.
const DefaultSocketMode os.FileMode = 0o600

// ListenUnixOptions configures ListenUnixWith. The zero value is a socket
// with mode 0600 and the daemon's own group.
type ListenUnixOptions struct {
	// Mode is the socket file's permission bits; zero means
	// DefaultSocketMode. Connecting needs write permission, so 0660 lets
	// the socket's group publish.
	Mode os.FileMode

	// Group, when set, is the group the socket is given: a group name, or
	// a numeric gid (used as is when no group has that name). An unknown
	// name is ErrUnknownGroup, reported before anything is created. The
	// daemon must be a member of the group, or root, for the chown to
	// succeed.
	Group string
}

// ListenUnix is ListenUnixWith with only a mode (zero meaning
// DefaultSocketMode) and the daemon's own group.
func ListenUnix(path string, mode os.FileMode) (*UnixListener, error) {
	return ListenUnixWith(path, ListenUnixOptions{Mode: mode})
}

// ListenUnixWith creates the Unix socket at path and gives it o.Group and
// o.Mode, in that order, so the mode never grants access to the wrong
// group. It is called once by the composition root at start-up. An existing
// file at path is handled so that nothing valuable is ever deleted:
//   - not a socket: ErrNotSocket, the file is left alone;
//   - a socket someone accepts on: ErrSocketInUse, it is left alone;
//   - a socket whose dial is refused (left by a crashed daemon): removed.
//
// The socket has its final group and mode from the moment path exists:
// see bindPrivate.
func ListenUnixWith(path string, o ListenUnixOptions) (*UnixListener, error) {
	gid, err := lookupGroup(o.Group)
	if err != nil {
		return nil, err
	}
	mode := o.Mode
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, info, err := bindPrivate(path, gid, mode)
	if err != nil {
		return nil, err
	}
	return &UnixListener{Listener: ln, path: path, info: info}, nil
}

// bindPrivate binds the socket in a fresh directory of mode 0700 beside
// path, gives it its group and mode there, and only then links it to path
// (link(2) fails if path exists, where rename would replace a socket bound
// there meanwhile), then removes the private name and directory. bind
// creates the socket with the umask's permissions (0777 under umask 000),
// and nobody else can reach it inside the private directory, so there is
// no moment when path is more open than mode.
//
// The alternative, setting the umask around bind, is not safe: the umask
// belongs to the process, so every file any goroutine creates meanwhile
// (the embedding program's included) would get it, and a mutex only orders
// our own callers.
func bindPrivate(path string, gid int, mode os.FileMode) (*net.UnixListener, fs.FileInfo, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: private directory for %s: %w", path, err)
	}
	defer os.RemoveAll(dir) // the private name only: path is another link
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("ipc: listen on %s: %w", path, err)
	}
	// Removal is ours to do, guarded by the inode check in Close.
	ln.SetUnlinkOnClose(false)
	info, err := statAndSetPerms(tmp, gid, mode)
	if err == nil {
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			// Another daemon bound it since removeStale looked.
			err = fmt.Errorf("%w: %s", ErrSocketInUse, path)
		} else if err != nil {
			err = fmt.Errorf("ipc: link socket to %s: %w", path, err)
		}
	}
	if err != nil {
		return nil, nil, errors.Join(err, ln.Close())
	}
	return ln, info, nil
}

// lookupGroup resolves a group name or numeric gid; "" means -1, "leave
// the group alone" to chown. A name is tried first, as chown(1) does.
func lookupGroup(group string) (int, error) {
	if group == "" {
		return -1, nil
	}
	g, err := user.LookupGroup(group)
	if err == nil {
		return strconv.Atoi(g.Gid)
	}
	if gid, perr := strconv.Atoi(group); perr == nil && gid >= 0 {
		return gid, nil
	}
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return 0, fmt.Errorf("%w: %q", ErrUnknownGroup, group)
	}
	return 0, fmt.Errorf("ipc: look up socket group %q: %w", group, err)
}

func statAndSetPerms(path string, gid int, mode os.FileMode) (fs.FileInfo, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("ipc: stat new socket %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Lchown(path, -1, gid); err != nil {
			return info, fmt.Errorf("ipc: chown socket %s to gid %d: %w", path, gid, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return info, fmt.Errorf("ipc: chmod socket %s: %w", path, err)
	}
	return info, nil
}

// Path returns the socket's file path, for logs and for clients started in
// the same process (tests).
func (l *UnixListener) Path() string { return l.path }

// Close removes the socket file if it is still this listener's, then closes
// the listener. Removing first is what makes the inode check safe: while the
// listener is open, a starting daemon sees a live socket and backs off, so
// nobody can put a new socket at path between the check and the removal.
func (l *UnixListener) Close() error {
	l.once.Do(func() {
		l.closeErr = errors.Join(removeIfSame(l.path, l.info), l.Listener.Close())
		if fp := l.fast.Load(); fp != nil {
			fp.close()
		}
	})
	return l.closeErr
}

// removeIfSame removes path if it is the file described by info.
func removeIfSame(path string, info fs.FileInfo) error {
	if info == nil {
		return nil
	}
	cur, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ipc: stat socket %s: %w", path, err)
	}
	if !os.SameFile(info, cur) {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ipc: remove socket %s: %w", path, err)
	}
	return nil
}

// removeStale clears path for bind if, and only if, it holds a dead socket.
func removeStale(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ipc: stat %s: %w", path, err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w: %s (%s)", ErrNotSocket, path, info.Mode().Type())
	}
	live, err := socketLive(path)
	if err != nil {
		return err
	}
	if live {
		return fmt.Errorf("%w: %s", ErrSocketInUse, path)
	}
	// Recheck identity so a socket created since the probe is not removed.
	return removeIfSame(path, info)
}

// socketLive dials path. Only "connection refused" proves nobody listens;
// any other failure (permission, a full backlog) leaves the file alone.
func socketLive(path string) (bool, error) {
	conn, err := net.DialTimeout("unix", path, probeTimeout)
	switch {
	case err == nil:
		_ = conn.Close() // the answer is known; a close error changes nothing
		return true, nil
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return false, nil
	case errors.Is(err, syscall.EAGAIN):
		return true, nil // backlog full: a busy but live listener
	}
	return false, fmt.Errorf("ipc: probe existing socket %s: %w", path, err)
}
