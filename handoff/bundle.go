package handoff

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Descriptor names used in the fd store (FDNAME=) and in Bundle.Names. A
// name starting with NamePrefix, or ConnName, belongs to the hand-off:
// Restore takes such descriptors, and systemd.Listeners, given
// IsHandoffName, leaves them alone.
//
// ConnName is short on purpose. systemd passes the store back in one
// LISTEN_FDNAMES variable, and Linux refuses to exec a program with one
// environment string over 128 KiB (MAX_ARG_STRLEN): with "fanoutd-conn"
// (13 bytes a descriptor) the service would fail to start past ~10,000
// connections; "fconn" (6 bytes) fits the 20,000 descriptors a process may
// hold here.
const (
	NamePrefix = "fanoutd-"
	ConnName   = "fconn"         // a client connection (the default name)
	StateName  = "fanoutd-state" // the sealed memfd holding the image
)

// IsHandoffName reports whether a passed descriptor's name belongs to the
// hand-off: the rule Restore takes descriptors by, and the one the daemon
// gives systemd.Listeners for those it must leave alone.
func IsHandoffName(name string) bool {
	return name == ConnName || strings.HasPrefix(name, NamePrefix)
}

// maxFDsPerMsg is SCM_MAX_FD: the kernel refuses more descriptors in one
// sendmsg.
const maxFDsPerMsg = 253

// Bundle is what moves from the old process to the new one.
type Bundle struct {
	// Files are raw descriptors (not *os.File: the transport holds raw
	// descriptors in its epoll set, and an *os.File would register each
	// with Go's poller and close it when collected). The sender keeps its
	// own copies; the receiver owns what it gets, with close-on-exec set
	// and O_NONBLOCK as the socket had it (a socket's flags are shared by
	// every copy: set what you need, never shut a socket down).
	Files []int
	// Names is parallel to Files: each name is ConnName or starts with
	// NamePrefix (e.g. "fanoutd-listen-ws" for a listener), ""
	// (or a Names shorter than Files) means ConnName. It travels with the
	// descriptors, so a receiver can tell listeners from connections.
	Names []string
	// Image is Encode's output.
	Image []byte
}

// Name is the name of Files[i].
func (b *Bundle) Name(i int) string {
	if i < len(b.Names) && b.Names[i] != "" {
		return b.Names[i]
	}
	return ConnName
}

// Close closes every descriptor of the bundle: what a receiver does with
// descriptors it will not serve (before a commit, closing is safe: the old
// process still holds its copies, and a close, unlike shutdown, does not
// end a connection another process holds).
func (b *Bundle) Close() {
	for _, fd := range b.Files {
		_ = unix.Close(fd)
	}
	b.Files = nil
}

// validName checks a descriptor name as systemd's fdname_is_valid does,
// and that it belongs to the hand-off.
func validName(name string) error {
	if !IsHandoffName(name) || len(name) > 255 {
		return fmt.Errorf("handoff: descriptor name %q: must be %q or start with %q, and be at most 255 bytes", name, ConnName, NamePrefix)
	}
	for _, r := range name {
		if r < ' ' || r > '~' || r == ':' {
			return fmt.Errorf("handoff: descriptor name %q: printable ASCII without ':' only", name)
		}
	}
	return nil
}
