package handoff

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listenFdsStart is SD_LISTEN_FDS_START.
const listenFdsStart = 3

// maxFDNames bounds the bytes the store's names add to LISTEN_FDNAMES:
// Linux refuses an exec with one environment string over 128 KiB
// (MAX_ARG_STRLEN), and the socket unit's names share the variable.
const maxFDNames = 124 << 10

// Store puts the bundle into the service manager's file-descriptor store
// ($NOTIFY_SOCKET, read through getenv): first FDSTOREREMOVE=1 for every
// name it is about to use (the leftovers of a generation that did not
// call ClearStore), then the descriptors, at most 253 per datagram, each
// datagram "FDSTORE=1\nFDNAME=<name>", and last the image in a sealed
// memfd named StateName. The caller keeps its copies. When $FDSTORE (set
// by systemd >= 254 to FileDescriptorStoreMax=) is present and smaller
// than len(b.Files)+1, nothing is sent and the error wraps
// ErrStoreTooSmall: drain instead. Without $FDSTORE the unit's setting
// cannot be checked; the manager silently drops what does not fit, which
// Restore sees as image entries without a descriptor. A bundle whose
// names would not fit the next process's LISTEN_FDNAMES (see ConnName) is
// refused the same way: systemd could not even start the next process.
func Store(getenv func(string) string, b Bundle) error {
	if err := checkStoreMax(getenv("FDSTORE"), len(b.Files)+1); err != nil {
		return err
	}
	size := len(StateName) + 1
	for i := range b.Files {
		if err := validName(b.Name(i)); err != nil {
			return err
		}
		size += len(b.Name(i)) + 1
	}
	if size > maxFDNames {
		return fmt.Errorf("%w: the names of %d descriptors take %d bytes of LISTEN_FDNAMES, more than the %d that leave the next exec room", ErrStoreTooSmall, len(b.Files)+1, size, maxFDNames)
	}
	memfd, err := sealedImage(b.Image)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(memfd) }()
	n, err := dialNotify(getenv("NOTIFY_SOCKET"))
	if err != nil {
		return err
	}
	defer n.close()
	if err := removeNames(n, storeNames(b)); err != nil {
		return err
	}
	for i := 0; i < len(b.Files); {
		end := i + 1
		for end < len(b.Files) && end-i < maxFDsPerMsg && b.Name(end) == b.Name(i) {
			end++
		}
		if err := n.send("FDSTORE=1\nFDNAME="+b.Name(i), b.Files[i:end]); err != nil {
			return err
		}
		i = end
	}
	return n.send("FDSTORE=1\nFDNAME="+StateName, []int{memfd})
}

func checkStoreMax(s string, need int) error {
	if s == "" {
		return nil
	}
	max, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("handoff: FDSTORE=%q is not a number", s)
	}
	if need > max {
		return fmt.Errorf("%w: %d descriptors to store, FileDescriptorStoreMax=%d", ErrStoreTooSmall, need, max)
	}
	return nil
}

// storeNames lists the bundle's distinct names, and StateName.
func storeNames(b Bundle) []string {
	seen := map[string]bool{StateName: true}
	names := []string{StateName}
	for i := range b.Files {
		if n := b.Name(i); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

func removeNames(n *notifier, names []string) error {
	for _, name := range names {
		if err := n.send("FDSTOREREMOVE=1\nFDNAME="+name, nil); err != nil {
			return err
		}
	}
	return nil
}

// sealedImage returns a memfd holding image, sealed against any change,
// so that no later process can alter what the next one restores.
func sealedImage(image []byte) (int, error) {
	fd, err := unix.MemfdCreate(StateName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("handoff: memfd: %w", err)
	}
	for off := 0; off < len(image); {
		w, err := unix.Write(fd, image[off:])
		if err != nil {
			_ = unix.Close(fd)
			return -1, fmt.Errorf("handoff: memfd write: %w", err)
		}
		off += w
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("handoff: memfd seal: %w", err)
	}
	return fd, nil
}

// ClearStore removes StateName, ConnName and the given names from the
// service manager's store (FDSTOREREMOVE=1). Call it once this process
// owns what Restore returned: the manager's copies would otherwise keep
// every connection this process closes half-alive (no FIN sent) until the
// service stops.
func ClearStore(getenv func(string) string, names ...string) error {
	n, err := dialNotify(getenv("NOTIFY_SOCKET"))
	if err != nil {
		return err
	}
	defer n.close()
	return removeNames(n, append([]string{StateName, ConnName}, names...))
}

// Restore takes the hand-off's descriptors from socket activation
// (LISTEN_PID must be this process, LISTEN_FDS, LISTEN_FDNAMES; read
// through getenv): those IsHandoffName names become the Bundle's Files and
// Names (close-on-exec set), the StateName memfd is read into Image and
// closed. Every other passed descriptor is left alone, open, for
// systemd.Listeners. It returns nil, nil when there is nothing of the
// hand-off's; ErrNoImage (having closed the connections) when there are
// connections but no image. The manager does not keep the order: match
// Files to the image with SocketKey, and expect image entries with no
// descriptor (a client that left while the process restarted).
func Restore(getenv func(string) string) (*Bundle, error) {
	return restore(getenv, os.Getpid(), listenFdsStart)
}

func restore(getenv func(string) string, pid, first int) (*Bundle, error) {
	n, err := passedCount(getenv, pid)
	if err != nil || n == 0 {
		return nil, err
	}
	names := strings.Split(getenv("LISTEN_FDNAMES"), ":")
	if len(names) != n {
		return nil, nil // unnamed descriptors cannot be the hand-off's
	}
	b := &Bundle{}
	state := -1
	for i, name := range names {
		if !IsHandoffName(name) {
			continue
		}
		fd := first + i
		unix.CloseOnExec(fd)
		switch {
		case name == StateName && state < 0:
			state = fd
		case name == StateName: // two images: keep the first, drop the other
			_ = unix.Close(fd)
		default:
			b.Files = append(b.Files, fd)
			b.Names = append(b.Names, name)
		}
	}
	return finishRestore(b, state)
}

func finishRestore(b *Bundle, state int) (*Bundle, error) {
	if state < 0 {
		if len(b.Files) == 0 {
			return nil, nil
		}
		b.Close()
		return nil, ErrNoImage
	}
	image, err := readImage(state)
	_ = unix.Close(state)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.Image = image
	return b, nil
}

func readImage(fd int) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("handoff: state memfd: %w", err)
	}
	if st.Size > maxImage {
		return nil, fmt.Errorf("handoff: state memfd: %d bytes is more than the %d allowed", st.Size, maxImage)
	}
	image := make([]byte, st.Size)
	for off := 0; off < len(image); {
		r, err := unix.Pread(fd, image[off:], int64(off))
		if err != nil {
			return nil, fmt.Errorf("handoff: state memfd read: %w", err)
		}
		if r == 0 {
			return nil, fmt.Errorf("handoff: state memfd: %d of %d bytes", off, len(image))
		}
		off += r
	}
	return image, nil
}

// passedCount is LISTEN_FDS when LISTEN_PID is pid, else 0 (as
// systemd.Listeners reads them).
func passedCount(getenv func(string) string, pid int) (int, error) {
	p := getenv("LISTEN_PID")
	if p == "" {
		return 0, nil
	}
	lpid, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("handoff: malformed LISTEN_PID=%q", p)
	}
	if lpid != pid {
		return 0, nil
	}
	s := getenv("LISTEN_FDS")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("handoff: malformed LISTEN_FDS=%q", s)
	}
	return n, nil
}
