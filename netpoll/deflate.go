package netpoll

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692) without context takeover in either
// direction. The server side of that choice is what makes one compressed
// frame valid for every subscriber: each message is compressed from an
// empty window, so the bytes do not depend on what the connection received
// before, and the daemon compresses an event once and queues the same frame
// to every connection that negotiated the extension (Compressor.Frame). The
// client side (client_no_context_takeover, which RFC 7692 §7.1.1.1 lets a
// server include whether or not the client offered it; browsers and npm ws
// accept it) means an inbound message is inflated from an empty window too,
// so no connection keeps an inflater, or its 32 KiB window, between
// messages: inflaters come from a pool for the length of one message.
//
// Compression uses klauspost/compress/flate (already in the module graph):
// the same format as compress/flate, and at level 1 it took 1.4-1.6x less
// CPU per message here (5-7 µs against 9 µs for a 200-byte event, 9 µs
// against 12-14 µs for 2 KB, writer reset included, which a pool of writers
// pays for every event). Inflation uses compress/flate, whose reader reset
// and inflate of a small message took 10-15% less CPU than klauspost's
// (~3 µs). Both are pooled and allocate nothing per message once warm; the
// inflater's input is a flate.Reader, so it is not wrapped in a new 4 KiB
// bufio.Reader for every message.

// rsv1 is the "compressed" bit of a frame header's Rsv field (RFC 7692 §6).
const rsv1 = 0x4

// deflateTail is the end of a sync flush, which senders strip from each
// message (RFC 7692 §7.2.1) and receivers put back; it is followed here by
// an empty final stored block so that the inflater ends with io.EOF rather
// than io.ErrUnexpectedEOF.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// deflateParams is what the server accepts and answers: no context takeover
// either way, default (32 KiB) windows. wsflate declines an offer carrying
// server_max_window_bits whatever its value, which is right for values
// under 15 (Go's flate writers cannot bound their window) and costs nothing
// that browsers offer; a client_max_window_bits offer is accepted without a
// value, as the inflater handles any window.
var deflateParams = wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}

// ErrNotFrame: Compressor.Frame was given bytes that are not one whole,
// unmasked, uncompressed data frame.
var ErrNotFrame = errors.New("netpoll: not a whole uncompressed data frame")

// errInflatedTooBig: a compressed message inflates past the message limit.
var errInflatedTooBig = errors.New("netpoll: inflated message too big")

// Compressor turns a frame built by TextFrame, BinaryFrame or AppendFrame
// into its permessage-deflate form, valid for every connection that
// negotiated the extension (Conn.Deflate). It keeps a pool of flate writers
// at one level; safe for concurrent use.
type Compressor struct {
	level int
	pool  sync.Pool // *deflater
}

type deflater struct {
	w   *flate.Writer
	buf bytes.Buffer
}

// NewCompressor returns a Compressor at a flate level from 1 (fastest) to 9
// (smallest); 0 or out of range means 1.
func NewCompressor(level int) *Compressor {
	if level < flate.BestSpeed || level > flate.BestCompression {
		level = flate.BestSpeed
	}
	return &Compressor{level: level}
}

// Level is the flate level in use.
func (z *Compressor) Level() int { return z.level }

// Frame returns frame's payload compressed into a new final frame with RSV1
// set, or ErrNotFrame. The result is one allocation at its exact size; it
// may be longer than frame (incompressible payloads): the caller decides
// which to send.
func (z *Compressor) Frame(frame []byte) ([]byte, error) {
	h, n, ok, err := parseHeader(frame)
	if !ok || err != nil || h.Masked || h.Rsv != 0 || !h.Fin || h.OpCode.IsControl() ||
		h.OpCode == ws.OpContinuation || int64(len(frame)-n) != h.Length {
		return nil, ErrNotFrame
	}
	d := z.get()
	defer z.pool.Put(d)
	if _, err := d.w.Write(frame[n:]); err != nil {
		return nil, err
	}
	if err := d.w.Flush(); err != nil {
		return nil, err
	}
	p := d.buf.Bytes()
	p = p[:len(p)-4] // the sync flush's 00 00 ff ff (RFC 7692 §7.2.1)
	out := AppendFrame(make([]byte, 0, len(p)+10), h.OpCode, p)
	out[0] |= rsv1 << 4
	return out, nil
}

// get returns a writer reset to an empty window and an empty buffer.
func (z *Compressor) get() *deflater {
	d, _ := z.pool.Get().(*deflater)
	if d == nil {
		d = &deflater{}
		d.w, _ = flate.NewWriter(&d.buf, z.level) // the level was checked
	}
	d.buf.Reset()
	d.w.Reset(&d.buf)
	return d
}

// inflater is one pooled flate reader and the reader of its input: the
// message's compressed bytes followed by deflateTail.
type inflater struct {
	src  bytes.Reader
	tail bytes.Reader
	in   io.Reader
	r    io.ReadCloser
}

func (f *inflater) Read(p []byte) (int, error) {
	if n, err := f.src.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	return f.tail.Read(p)
}

// ReadByte makes the input a flate.Reader, which the inflater reads byte
// by byte as it is; any other reader it wraps in a new bufio.Reader (4 KiB)
// at every Reset, that is for every message.
func (f *inflater) ReadByte() (byte, error) {
	if b, err := f.src.ReadByte(); err == nil {
		return b, nil
	}
	return f.tail.ReadByte()
}

// inflate appends the inflated form of the compressed message p to dst,
// never letting dst hold more than limit bytes of it: a message inflating
// past limit returns errInflatedTooBig having read at most limit+1 bytes.
// dst grows by doubling from a size proportional to p, so a small message
// costs little and a bomb costs the limit at most.
func (s *Server) inflate(dst, p []byte, limit int) ([]byte, error) {
	f, _ := s.inflaters.Get().(*inflater)
	if f == nil {
		f = &inflater{}
		f.r = stdflate.NewReader(f)
	}
	defer s.inflaters.Put(f)
	f.src.Reset(p)
	f.tail.Reset(deflateTail)
	if err := f.r.(stdflate.Resetter).Reset(f, nil); err != nil {
		return dst, err
	}
	start := len(dst)
	if cap(dst)-start < 512 {
		dst = growTo(dst, start+min(limit+1, max(4*len(p), 512)))
	}
	for {
		if len(dst) == cap(dst) {
			got := len(dst) - start
			dst = growTo(dst, start+min(2*got, limit+1))
		}
		n, err := f.r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, errInflatedTooBig
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// deflatedBound is the most compressed bytes a message within limit can
// take: deflate stores incompressible data in blocks of at most 64 KiB with
// 5 bytes of header each, plus a few bytes of framing, so a message at the
// limit may arrive slightly larger than it. The inflated size is what the
// limit is about (inflate checks it); this only keeps the compressed bytes
// bounded as they arrive.
func deflatedBound(limit int64) int64 { return limit + 5*(limit>>16+1) + 16 }

// growTo returns dst with capacity exactly n (append would round it up,
// past the limit the caller keeps to).
func growTo(dst []byte, n int) []byte {
	nb := make([]byte, len(dst), n)
	copy(nb, dst)
	return nb
}

// negotiate is the upgrader's Negotiate: it accepts the first
// permessage-deflate offer it can serve (deflateParams) when Options.Deflate
// is on. An offer with malformed parameters is declined, not refused: the
// connection goes on uncompressed (RFC 7692 §5).
func (h *handshaker) negotiate(opt httphead.Option) (httphead.Option, error) {
	if !h.s.opts.Deflate {
		return httphead.Option{}, nil
	}
	acc, err := h.flate.Negotiate(opt)
	if err != nil {
		return httphead.Option{}, nil
	}
	return acc, nil
}

// Deflate reports whether the connection negotiated permessage-deflate:
// frames made by a Compressor may be sent to it. It is known when
// Handler.Accept is called, and does not change; safe from any goroutine.
func (c *Conn) Deflate() bool { return c.deflate.Load() }
