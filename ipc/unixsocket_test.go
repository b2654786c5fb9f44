package ipc

import (
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func socketPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "s")
}

// staleSocket leaves a socket file nobody listens on, as a crashed daemon
// would.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
}

func listen(t *testing.T, path string, mode os.FileMode) *UnixListener {
	t.Helper()
	l, err := ListenUnix(path, mode)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestListenUnixReplacesStaleSocket(t *testing.T) {
	path := socketPath(t)
	staleSocket(t, path)
	l := listen(t, path, 0o600)
	serve(t, l, NewHandler(Options{Publisher: &fakePublisher{}}))
	c := NewClient(path)
	defer c.Close()
	if _, err := c.Stats(t.Context()); err != nil {
		t.Fatalf("stats over the new socket: %v", err)
	}
}

func TestListenUnixDoesNotStealLiveSocket(t *testing.T) {
	path := socketPath(t)
	first := listen(t, path, 0o600)
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ListenUnix(path, 0o600)
	if !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("second ListenUnix: err = %v, want ErrSocketInUse", err)
	}
	after, err := os.Lstat(path)
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("live socket file was replaced or removed (err %v)", err)
	}
	// The probe's connection is in first's backlog; accepting it proves the
	// first listener still owns the path.
	conn, err := first.Accept()
	if err != nil {
		t.Fatalf("first listener broken: %v", err)
	}
	_ = conn.Close()
}

func TestListenUnixRefusesNonSocket(t *testing.T) {
	cases := []struct {
		name   string
		create func(t *testing.T, path string)
	}{
		{"regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink to a socket", func(t *testing.T, path string) {
			target := path + ".real"
			staleSocket(t, target)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := socketPath(t)
			tc.create(t, path)
			before, _ := os.Lstat(path)
			_, err := ListenUnix(path, 0o600)
			if !errors.Is(err, ErrNotSocket) {
				t.Fatalf("err = %v, want ErrNotSocket", err)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) {
				t.Fatalf("file at path was touched (err %v)", err)
			}
		})
	}
	t.Run("regular file content kept", func(t *testing.T) {
		path := socketPath(t)
		if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = ListenUnix(path, 0o600)
		if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
			t.Fatalf("content = %q, %v", b, err)
		}
	})
}

func TestListenUnixMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o660, 0o600, 0o666} {
		t.Run(mode.String(), func(t *testing.T) {
			path := socketPath(t)
			listen(t, path, mode)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Type() != fs.ModeSocket {
				t.Errorf("type = %v, want socket", info.Mode().Type())
			}
			if got := info.Mode().Perm(); got != mode {
				t.Errorf("perm = %v, want %v", got, mode)
			}
		})
	}
}

func TestUnixListenerCloseRemovesOwnSocket(t *testing.T) {
	path := socketPath(t)
	l, err := ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != path {
		t.Errorf("Path() = %q, want %q", l.Path(), path)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file still there after Close (err %v)", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUnixListenerCloseKeepsSuccessorSocket(t *testing.T) {
	path := socketPath(t)
	old, err := ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// An operator removed the file and a new daemon started on the path.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	successor := listen(t, path, 0o600)
	if err := old.Close(); err != nil {
		t.Fatalf("old Close: %v", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("old daemon removed its successor's socket: %v", err)
	}
	serve(t, successor, NewHandler(Options{Publisher: &fakePublisher{}}))
	c := NewClient(path)
	defer c.Close()
	if _, err := c.Stats(t.Context()); err != nil {
		t.Fatalf("successor unreachable: %v", err)
	}
}

func TestServerShutdownRemovesSocket(t *testing.T) {
	path := socketPath(t)
	l, err := ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(NewHandler(Options{Publisher: &fakePublisher{}}), nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	c := NewClient(path)
	defer c.Close()
	if _, err := c.Stats(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file left after Shutdown (err %v)", err)
	}
}

func TestListenUnixWithGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("chown to an arbitrary group needs root")
	}
	daemon, err := user.LookupGroup("daemon")
	if err != nil {
		t.Skipf("no group daemon: %v", err)
	}
	daemonGID, _ := strconv.Atoi(daemon.Gid)
	cases := []struct {
		name, group string
		gid         int
	}{
		{"name", "daemon", daemonGID},
		{"numeric gid of a group", daemon.Gid, daemonGID},
		{"numeric gid without a group", "4242", 4242},
		{"none keeps ours", "", os.Getgid()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := socketPath(t)
			l, err := ListenUnixWith(path, ListenUnixOptions{Mode: 0o660, Group: tc.group})
			if err != nil {
				t.Fatalf("ListenUnixWith: %v", err)
			}
			t.Cleanup(func() { _ = l.Close() })
			info, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			st := info.Sys().(*syscall.Stat_t)
			if int(st.Gid) != tc.gid {
				t.Errorf("gid = %d, want %d", st.Gid, tc.gid)
			}
			if int(st.Uid) != os.Getuid() {
				t.Errorf("uid = %d, want ours (%d)", st.Uid, os.Getuid())
			}
			if got := info.Mode().Perm(); got != 0o660 {
				t.Errorf("perm = %v, want 0660", got)
			}
		})
	}
}

func TestListenUnixWithUnknownGroup(t *testing.T) {
	path := socketPath(t)
	const group = "fanoutd-no-such-group"
	_, err := ListenUnixWith(path, ListenUnixOptions{Mode: 0o660, Group: group})
	if !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("err = %v, want ErrUnknownGroup", err)
	}
	if !strings.Contains(err.Error(), group) {
		t.Errorf("error %q does not name the group", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket created despite the error (err %v)", err)
	}
}

func TestListenUnixWithDefaultMode(t *testing.T) {
	path := socketPath(t)
	l, err := ListenUnixWith(path, ListenUnixOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != DefaultSocketMode {
		t.Errorf("perm = %v, want %v", got, DefaultSocketMode)
	}
}
