package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxImage bounds the image a new process accepts (1 GiB): a header
// announcing more is a protocol error, not an allocation.
const maxImage = 1 << 30

// maxFiles bounds the descriptors a bundle may announce.
const maxFiles = 1 << 20

// Parent is the new process's handle on the old one. Its methods are
// called in order (Hello, Receive, Ready or Refuse, WaitCommit, Serving)
// from one goroutine.
type Parent struct {
	w *wire
}

// Inherited returns the hand-off socket StartChild passed (EnvFD, read
// through getenv), or nil, nil when this process was not started by
// StartChild. The inherited descriptor is replaced by a close-on-exec
// one, so the process's own children do not inherit it; the caller
// should also drop EnvFD from the environment it passes on.
func Inherited(getenv func(string) string) (*Parent, error) {
	s := getenv(EnvFD)
	if s == "" {
		return nil, nil
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("handoff: %s=%q is not a descriptor", EnvFD, s)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("handoff: %s=%d is not the hand-off socket (type %d, %v)", EnvFD, fd, typ, err)
	}
	w, err := newWire(fd)
	if err != nil {
		return nil, err
	}
	return &Parent{w: w}, nil
}

// Hello tells the old process this one runs and what it reads.
func (p *Parent) Hello(h Hello) error {
	if h.Pid == 0 {
		h.Pid = os.Getpid()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return p.w.sendNow(kindHello, b)
}

// Receive reads the whole bundle. On any error it has closed whatever it
// received; ErrAborted means the old process aborted or went away.
func (p *Parent) Receive(ctx context.Context) (Bundle, error) {
	var b Bundle
	payload, err := p.expect(ctx, kindHeader, nil)
	if err != nil {
		return b, err
	}
	var h bundleHeader
	if err := json.Unmarshal(payload, &h); err != nil || h.Files < 0 || h.Files > maxFiles || h.Image < 0 || h.Image > maxImage {
		return b, fmt.Errorf("%w: bundle header %q", ErrProtocol, payload)
	}
	if err := p.receiveFiles(ctx, &b, h.Files); err != nil {
		b.Close()
		return Bundle{}, err
	}
	if err := p.receiveImage(ctx, &b, h.Image); err != nil {
		b.Close()
		return Bundle{}, err
	}
	return b, nil
}

func (p *Parent) receiveFiles(ctx context.Context, b *Bundle, n int) error {
	b.Files = make([]int, 0, n)
	b.Names = make([]string, 0, n)
	for len(b.Files) < n {
		var names []string
		payload, err := p.expect(ctx, kindFiles, func(fds []int) { b.Files = append(b.Files, fds...) })
		if err != nil {
			return err
		}
		if err := json.Unmarshal(payload, &names); err != nil {
			return fmt.Errorf("%w: descriptor names: %v", ErrProtocol, err)
		}
		if got := len(b.Files) - len(b.Names); got == 0 || got != len(names) || len(b.Files) > n {
			return fmt.Errorf("%w: %d descriptors with %d names (%d of %d announced)", ErrProtocol, got, len(names), len(b.Files), n)
		}
		b.Names = append(b.Names, names...)
	}
	return nil
}

func (p *Parent) receiveImage(ctx context.Context, b *Bundle, n int) error {
	b.Image = make([]byte, 0, n)
	for len(b.Image) < n {
		chunk, err := p.expect(ctx, kindImage, nil)
		if err != nil {
			return err
		}
		if len(b.Image)+len(chunk) > n {
			return fmt.Errorf("%w: image longer than the %d bytes announced", ErrProtocol, n)
		}
		b.Image = append(b.Image, chunk...)
	}
	_, err := p.expect(ctx, kindEnd, nil)
	return err
}

// Refuse tells the old process this one will not take over, and why (the
// old one logs the reason and carries on). The caller then exits without
// touching any received socket (closing its copies is harmless). The
// reason is cut to 4 KiB.
func (p *Parent) Refuse(reason string) error {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	err := p.w.sendNow(kindRefuse, []byte(reason))
	_ = p.w.close()
	return err
}

// Ready tells the old process everything is decoded and registered and
// that this one waits for the commit, serving nothing.
func (p *Parent) Ready() error { return p.w.sendNow(kindReady, nil) }

// WaitCommit waits for the commit. Any error (ErrAborted on an abort or on
// the old process going away, ctx's error) means: exit without reading,
// writing or shutting down any received socket.
func (p *Parent) WaitCommit(ctx context.Context) error {
	_, err := p.expect(ctx, kindCommit, nil)
	return err
}

// Serving confirms to the old process that this one serves, and closes
// the hand-off socket. The old process may be gone already: that is not
// an error worth failing for, and it is reported only for logging.
func (p *Parent) Serving() error {
	err := p.w.sendNow(kindServing, nil)
	_ = p.w.close()
	return err
}

// expect reads the next message and wants kind want; descriptors go to
// keep when it is set, else they are closed.
func (p *Parent) expect(ctx context.Context, want byte, keep func([]int)) ([]byte, error) {
	kind, payload, fds, err := p.w.recv(ctx)
	if keep != nil && kind == want {
		keep(fds)
	} else {
		closeAll(fds)
	}
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: it closed the hand-off socket", ErrAborted)
	case err != nil:
		return nil, err
	case kind == kindAbort:
		return nil, ErrAborted
	case kind != want:
		return nil, fmt.Errorf("%w: got message %q, want %q", ErrProtocol, kind, want)
	}
	return payload, nil
}
