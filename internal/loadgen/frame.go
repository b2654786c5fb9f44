package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net"

	"github.com/gobwas/ws"
)

// maxFrame bounds a server frame: far above any bench event, it only stops
// a confused peer from making a worker allocate without end.
const maxFrame = 16 << 20

// frameReader reads server frames from one connection without allocating
// per frame: the header goes into a fixed scratch array, and a payload that
// fits the bufio buffer is returned in place (Peek) and discarded on the next
// call. Only a payload larger than the buffer is copied, into a slice that
// grows as needed and is then reused. It belongs to one goroutine.
type frameReader struct {
	br      *bufio.Reader
	hdr     [ws.MaxHeaderSize]byte
	big     []byte
	pending int // bytes of the previous payload still to discard
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, size)}
}

// next returns the next frame; the payload is valid until the following
// call. Masked frames (servers never mask) wrap ErrProtocol.
func (r *frameReader) next() (ws.Header, []byte, error) {
	if r.pending > 0 {
		if _, err := r.br.Discard(r.pending); err != nil {
			return ws.Header{}, nil, err
		}
		r.pending = 0
	}
	h, err := ws.ReadHeaderBuffer(r.br, r.hdr[:])
	if err != nil {
		return h, nil, err
	}
	if h.Masked || h.Length > maxFrame {
		return h, nil, fmt.Errorf("%w: masked=%v length=%d", ErrProtocol, h.Masked, h.Length)
	}
	n := int(h.Length)
	if n <= r.br.Size() {
		p, err := r.br.Peek(n)
		r.pending = len(p)
		return h, p, err
	}
	if cap(r.big) < n {
		r.big = make([]byte, n)
	}
	_, err = io.ReadFull(r.br, r.big[:n])
	return h, r.big[:n], err
}

// writeClientFrame writes one masked frame (clients must mask) in a single
// write, so it can never be split by another writer's bytes. Only a
// connection's own goroutine calls it.
func writeClientFrame(nc net.Conn, op ws.OpCode, payload []byte) error {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: ws.NewMask()}
	buf := make([]byte, 0, ws.HeaderSize(h)+len(payload))
	w := appendWriter{&buf}
	if err := ws.WriteHeader(w, h); err != nil {
		return fmt.Errorf("frame header: %w", err)
	}
	start := len(buf)
	buf = append(buf, payload...)
	ws.Cipher(buf[start:], h.Mask, 0)
	if _, err := nc.Write(buf); err != nil {
		return fmt.Errorf("write %v frame: %w", op, err)
	}
	return nil
}

// appendWriter lets ws.WriteHeader append to a slice.
type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}
