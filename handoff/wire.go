package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Message kinds of the upgrade route. Every message is one SOCK_SEQPACKET
// packet: a kind byte, then a payload, with descriptors (SCM_RIGHTS) on
// kindFiles only. Packets keep their boundaries, so a batch of descriptors
// never straddles two reads.
const (
	kindHello   byte = 'H' // child: Hello (JSON)
	kindHeader  byte = 'B' // parent: bundleHeader (JSON)
	kindFiles   byte = 'F' // parent: names of the batch (JSON), descriptors attached
	kindImage   byte = 'I' // parent: a chunk of the image
	kindEnd     byte = 'E' // parent: the bundle is complete
	kindReady   byte = 'R' // child: everything decoded and registered, not serving
	kindRefuse  byte = 'X' // child: reason
	kindCommit  byte = 'C' // parent: point of no return
	kindAbort   byte = 'A' // parent: exit without touching any socket
	kindServing byte = 'S' // child: serving
)

// imageChunk bounds one image packet well under the default socket buffer
// (a SEQPACKET packet must fit in it whole).
const imageChunk = 32 << 10

// maxPacket is the receive buffer: a batch of 253 descriptor names of up
// to 255 bytes each (systemd's limit) fits, and so does an image chunk.
const maxPacket = 80 << 10

// maxReason bounds a refusal's reason, so that it fits one packet.
const maxReason = 4 << 10

// writeTimeout bounds the control writes that take no context.
const writeTimeout = 10 * time.Second

// bundleHeader announces what follows, so the receiver knows when the
// bundle is complete and can refuse an absurd one before reading it.
type bundleHeader struct {
	Files int `json:"files"`
	Image int `json:"image"`
}

// wire is one end of the hand-off socket. Writes are serialised (Abort may
// race a blocked read); reads come from one goroutine at a time.
type wire struct {
	c   *net.UnixConn
	wmu sync.Mutex
	buf []byte
	oob []byte
}

// newWire takes ownership of fd, a SOCK_SEQPACKET socket.
func newWire(fd int) (*wire, error) {
	f := os.NewFile(uintptr(fd), "handoff")
	c, err := net.FileConn(f) // a close-on-exec duplicate
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("handoff: control socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("handoff: control socket is a %T, want a unix socket", c)
	}
	return &wire{c: uc, buf: make([]byte, maxPacket), oob: make([]byte, unix.CmsgSpace(4*maxFDsPerMsg))}, nil
}

// bind applies ctx to the socket's deadlines until the returned function
// is called: ctx's end, deadline or cancellation, moves the socket's
// deadline into the past, so the blocked call returns and ctxErr reports
// ctx's error (a socket deadline copied from ctx could fire first).
func (w *wire) bind(ctx context.Context, set func(time.Time) error) func() {
	stop := context.AfterFunc(ctx, func() { _ = set(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = set(time.Time{})
	}
}

func (w *wire) send(ctx context.Context, kind byte, payload []byte, fds []int) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	defer w.bind(ctx, w.c.SetWriteDeadline)()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err := w.c.WriteMsgUnix(append([]byte{kind}, payload...), oob, nil)
	return ctxErr(ctx, err)
}

func (w *wire) sendJSON(ctx context.Context, kind byte, v any, fds []int) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.send(ctx, kind, p, fds)
}

// sendNow is send with writeTimeout, for the steps that take no context.
func (w *wire) sendNow(kind byte, payload []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return w.send(ctx, kind, payload, nil)
}

// recv reads one packet. The payload is valid until the next recv; the
// descriptors are the caller's (close-on-exec). End of stream is io.EOF.
func (w *wire) recv(ctx context.Context) (byte, []byte, []int, error) {
	defer w.bind(ctx, w.c.SetReadDeadline)()
	n, oobn, flags, _, err := w.c.ReadMsgUnix(w.buf, w.oob)
	if err != nil {
		if errors.Is(err, unix.ECONNRESET) {
			err = io.EOF
		}
		return 0, nil, nil, ctxErr(ctx, err)
	}
	fds, ferr := parseRights(w.oob[:oobn])
	switch {
	case ferr != nil:
	case flags&unix.MSG_CTRUNC != 0:
		ferr = fmt.Errorf("%w: descriptors truncated (more than %d in one message?)", ErrProtocol, maxFDsPerMsg)
	case flags&unix.MSG_TRUNC != 0:
		ferr = fmt.Errorf("%w: message longer than %d bytes", ErrProtocol, len(w.buf))
	case n == 0:
		ferr = io.EOF
	}
	if ferr != nil {
		closeAll(fds)
		return 0, nil, nil, ferr
	}
	return w.buf[0], w.buf[1:n], fds, nil
}

func (w *wire) close() error { return w.c.Close() }

// parseRights returns every descriptor of SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrProtocol, err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("%w: rights: %v", ErrProtocol, err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// ctxErr reports a deadline the context imposed as the context's error.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("handoff: %w (%v)", ctx.Err(), err)
	}
	return err
}
