package loadgen

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

// deflateOffer is the permessage-deflate offer Chromium makes; --deflate
// sends it so that the daemon serves the generator as it serves browsers.
const deflateOffer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

// rsv1 marks a compressed message in a frame header's Rsv field.
const rsv1 = 0x4

// deflateTail ends a compressed message for the inflater: the sync flush's
// 00 00 ff ff that the sender strips, then an empty final block.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater is one pooled flate reader with its input and output buffers.
// The daemon negotiates no context takeover, so every message inflates
// from an empty window and a reader serves any connection.
type inflater struct {
	in  bytes.Reader
	mr  multi
	r   io.ReadCloser
	out []byte
}

// multi reads the compressed message, then the tail.
type multi struct{ a, b *bytes.Reader }

func (m multi) Read(p []byte) (int, error) {
	if n, err := m.a.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	return m.b.Read(p)
}

// ReadByte makes multi a flate.Reader: otherwise the inflater wraps it in
// a new 4 KiB bufio.Reader at every Reset, that is for every message.
func (m multi) ReadByte() (byte, error) {
	if b, err := m.a.ReadByte(); err == nil {
		return b, nil
	}
	return m.b.ReadByte()
}

var inflaters = sync.Pool{New: func() any {
	f := &inflater{}
	f.mr = multi{a: &f.in, b: bytes.NewReader(nil)}
	f.r = flate.NewReader(f.mr)
	return f
}}

// inflateEvent inflates a compressed text frame and hands it to text, as
// an uncompressed one would be. The pool is the process's: the generator
// is a tool, one per run.
func (w *worker) inflateEvent(c *client, p []byte) error {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.in.Reset(p)
	f.mr.b.Reset(deflateTail)
	if err := f.r.(flate.Resetter).Reset(f.mr, nil); err != nil {
		return fmt.Errorf("%w: inflate: %w", ErrProtocol, err)
	}
	out := f.out[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, make([]byte, max(4096, cap(out)))...)[:len(out)]
		}
		n, err := f.r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: inflate: %w", ErrProtocol, err)
		}
		if len(out) > maxFrame {
			return fmt.Errorf("%w: inflated message over %d bytes", ErrProtocol, maxFrame)
		}
	}
	f.out = out
	return w.text(c, out)
}
