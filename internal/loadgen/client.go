package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// client is one subscriber connection, owned by its goroutine (serve).
type client struct {
	nc      net.Conn
	fr      *frameReader
	lastSeq int64
}

// serve is the goroutine of connection k: open and subscribe, release the
// handshake slot, then read until the socket ends.
func (w *worker) serve(ctx context.Context, k int, sem chan struct{}) {
	defer w.wg.Done()
	c, err := w.open(ctx, k)
	<-sem
	w.settle(k, err)
	if err != nil {
		return
	}
	w.receive(c)
}

// open dials from the connection's source address, upgrades with the token
// and subscribes to its channel, all within HandshakeTimeout.
func (w *worker) open(ctx context.Context, k int) (*client, error) {
	global := w.spec.First + k
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: SourceIP(global % w.spec.SourceIPs).AsSlice()},
		Timeout:   w.spec.HandshakeTimeout,
		Control:   bindAddressNoPort,
	}
	storeMin(&w.firstDialNs, w.now().UnixNano())
	nc, err := d.DialContext(ctx, "tcp", w.spec.Target.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if !w.register(k, nc) {
		_ = nc.Close()
		return nil, fmt.Errorf("dial: %w", net.ErrClosed)
	}
	// Ending ctx aborts the handshake through a past deadline.
	abort := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	_ = nc.SetDeadline(w.now().Add(w.spec.HandshakeTimeout))
	c := &client{nc: nc, fr: newFrameReader(nc, w.spec.ReadBuffer), lastSeq: -1}
	err = w.subscribe(c, ChannelOf(int64(global), w.spec.Channels))
	if !abort() && err == nil {
		// The abort ran, or is running: its deadline would end the
		// connection later and pass for a disconnect.
		err = fmt.Errorf("connection phase ended: %w", context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

func (w *worker) subscribe(c *client, channel int) error {
	if w.spec.Protocol == ProtocolCentrifugo {
		// Centrifugo takes the token in its connect command, not the upgrade.
		if err := handshake(c.nc, c.fr.br, w.spec.Target, "", w.spec.Deflate); err != nil {
			return err
		}
		return w.centrifugoSubscribe(c, channel)
	}
	if w.spec.SubscribeInURL {
		return w.subscribeInURL(c, []string{ChannelName(channel)})
	}
	if err := handshake(c.nc, c.fr.br, w.spec.Target, w.spec.Token, w.spec.Deflate); err != nil {
		return err
	}
	msg := `{"action":"subscribe","channel":"` + ChannelName(channel) + `","id":"1"}`
	if err := writeClientFrame(c.nc, ws.OpText, []byte(msg)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for {
		p, err := c.nextText()
		switch {
		case err != nil:
			return fmt.Errorf("await subscribed: %w", err)
		case hasType(p, "subscribed"):
			return nil
		case hasType(p, "error"):
			return fmt.Errorf("%w: %s", ErrSubscribe, p)
		}
	}
}

// nextText returns the next text message of the connection phase,
// answering pings and passing over other frames; a close frame is an
// error (closeError).
func (c *client) nextText() ([]byte, error) {
	for {
		h, p, err := c.fr.next()
		if err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := writeClientFrame(c.nc, ws.OpPong, p); err != nil {
				return nil, err
			}
		case ws.OpClose:
			return nil, closeError(p)
		case ws.OpText:
			return p, nil
		}
	}
}

// receive is the receive path: every delivery passes here, so it reads
// into the connection's buffer, never decodes JSON and takes no lock.
func (w *worker) receive(c *client) {
	for {
		h, p, err := c.fr.next()
		if err == nil {
			err = w.frame(c, h, p)
		}
		if err != nil {
			_ = c.nc.Close()
			if !w.stopping.Load() {
				w.disconnects.Add(1)
				w.disconnectErrs.add(err)
			}
			return
		}
	}
}

func (w *worker) frame(c *client, h ws.Header, p []byte) error {
	switch h.OpCode {
	case ws.OpText:
		if !h.Fin {
			return fmt.Errorf("%w: fragmented text message", ErrProtocol)
		}
		if h.Rsv&rsv1 != 0 {
			if !w.spec.Deflate {
				return fmt.Errorf("%w: compressed frame without negotiation", ErrProtocol)
			}
			return w.inflateEvent(c, p)
		}
		return w.text(c, p)
	case ws.OpPing:
		if err := writeClientFrame(c.nc, ws.OpPong, p); err != nil {
			return err
		}
		w.pongs.Add(1)
	case ws.OpPong:
	case ws.OpClose:
		return closeError(p)
	default:
		return fmt.Errorf("%w: opcode %v", ErrProtocol, h.OpCode)
	}
	return nil
}

// text handles one whole (inflated) text message in the run's protocol.
func (w *worker) text(c *client, p []byte) error {
	if w.spec.Protocol == ProtocolCentrifugo {
		return w.centrifugoText(c, p)
	}
	w.event(c, p)
	return nil
}

// event counts one delivery and records its latency.
func (w *worker) event(c *client, p []byte) {
	ts, seq, ok := parseEvent(p)
	if !ok {
		w.other.Add(1)
		return
	}
	w.hist.Record((w.now().UnixNano() - ts) / int64(time.Microsecond))
	w.received.Add(1)
	if seq <= c.lastSeq {
		w.outOfOrder.Add(1)
	}
	c.lastSeq = seq
}

// closeError names a server close frame by its code ("close 4001").
func closeError(p []byte) error {
	if len(p) < 2 {
		return fmt.Errorf("close without code: %w", io.EOF)
	}
	return fmt.Errorf("close %d: %w", binary.BigEndian.Uint16(p), io.EOF)
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h), absent from
// package syscall.
const ipBindAddressNoPort = 24

// bindAddressNoPort lets the kernel pick the source port at connect time
// (by 4-tuple) rather than at bind time (by address alone), so binding a
// source address does not cost one port per connection for every
// destination.
func bindAddressNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	return errors.Join(err, serr)
}
