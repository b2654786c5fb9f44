package fakesystemd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// maxFDsPerMsg is SCM_MAX_FD.
const maxFDsPerMsg = 253

// notifyBufferMax is systemd's NOTIFY_BUFFER_MAX.
const notifyBufferMax = 4096

// defaultName is the name systemd gives a stored descriptor without FDNAME=.
const defaultName = "stored"

// Options configure New.
type Options struct {
	// StoreMax is FileDescriptorStoreMax= (and $FDSTORE); zero means
	// 20,000.
	StoreMax int
}

// NamedFile is a descriptor a socket unit would pass, with its
// FileDescriptorName=.
type NamedFile struct {
	Name string
	File *os.File
}

// entry is one stored descriptor. The *os.File owns it (wrapping keeps
// the socket's blocking mode, and exec passes it as it is).
type entry struct {
	name string
	f    *os.File
	id   [2]uint64 // device, inode: what makes two descriptors the same file
}

// Manager is the fake service manager. Its lock guards everything below
// it; the receive goroutine and the test's goroutine both take it.
type Manager struct {
	t      testing.TB
	conn   *net.UnixConn
	socket string
	max    int
	done   chan struct{}

	mu      sync.Mutex
	store   []entry
	states  []string      // notify lines since the last Start
	changed chan struct{} // closed and replaced whenever states grows
	errs    []string
	dropped int
}

// New listens on a notify socket in a fresh temporary directory (short:
// sun_path is 108 bytes) and stops, closing every stored descriptor, at
// the test's cleanup. A protocol error seen meanwhile fails the test then.
func New(t testing.TB, opts ...Options) *Manager {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.StoreMax <= 0 {
		o.StoreMax = 20000
	}
	dir, err := os.MkdirTemp("", "fsd")
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	m := &Manager{t: t, conn: conn, socket: socket, max: o.StoreMax, done: make(chan struct{}), changed: make(chan struct{})}
	go m.receive()
	t.Cleanup(func() {
		_ = conn.Close()
		<-m.done
		_ = os.RemoveAll(dir)
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, e := range m.store {
			_ = e.f.Close()
		}
		m.store = nil
		for _, e := range m.errs {
			t.Errorf("fakesystemd: %s", e)
		}
	})
	return m
}

// Env is what the service's process gets: NOTIFY_SOCKET and FDSTORE.
func (m *Manager) Env() []string {
	return []string{"NOTIFY_SOCKET=" + m.socket, "FDSTORE=" + strconv.Itoa(m.max)}
}

// Getenv reads Env, for code that takes a getenv function.
func (m *Manager) Getenv(key string) string {
	for _, kv := range m.Env() {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// Stored counts the stored descriptors by name.
func (m *Manager) Stored() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, e := range m.store {
		out[e.name]++
	}
	return out
}

// Dropped counts the descriptors closed because the store was full.
func (m *Manager) Dropped() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// WaitState waits until a notify line equal to state (e.g. "READY=1")
// arrived since the last Start, or ctx ends.
func (m *Manager) WaitState(ctx context.Context, state string) error {
	for {
		m.mu.Lock()
		seen, ch := slices.Contains(m.states, state), m.changed
		m.mu.Unlock()
		if seen {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fakesystemd: waiting for %q: %w", state, ctx.Err())
		}
	}
}

// Start starts cmd as the service's new main process: listeners, then the
// stored descriptors (newest first, as systemd passes them), from fd 3 on,
// with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (when there is any),
// NOTIFY_SOCKET and FDSTORE in its environment. cmd.ExtraFiles must be
// empty. The store keeps its copies until FDSTOREREMOVE=1, like systemd.
func (m *Manager) Start(cmd *exec.Cmd, listeners ...NamedFile) error {
	if cmd.Err != nil {
		return cmd.Err
	}
	if len(cmd.ExtraFiles) > 0 {
		return errors.New("fakesystemd: Start: cmd.ExtraFiles is where the passed descriptors go; leave it empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, l := range listeners {
		cmd.ExtraFiles = append(cmd.ExtraFiles, l.File)
		names = append(names, l.Name)
	}
	for i := len(m.store) - 1; i >= 0; i-- {
		cmd.ExtraFiles = append(cmd.ExtraFiles, m.store[i].f)
		names = append(names, m.store[i].name)
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "FDSTORE"}, k)
	})
	env = append(env, m.Env()...)
	if len(names) > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(names)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
		// LISTEN_PID must be the program's own pid, known only once it
		// runs: a shell exports its own and execs the program.
		cmd.Args = append([]string{"/bin/sh", "-c", `export LISTEN_PID=$$; exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = "/bin/sh"
	}
	cmd.Env = env
	m.states = nil
	return cmd.Start()
}
