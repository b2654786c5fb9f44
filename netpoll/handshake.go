package netpoll

import (
	"bytes"
	"errors"
	"net/http"
	"syscall"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"go.uber.org/zap"
)

var headEnd = []byte("\r\n\r\n")

// errBadHead: checkHead refused the request.
var errBadHead = errors.New("netpoll: repeated header or bad Sec-WebSocket-Key")

// readHandshake collects the request head without blocking, capped at
// Options.MaxHeaderBytes, then upgrades, hands the connection to net/http,
// or rejects it. The sweeper enforces the handshake deadline.
func (w *worker) readHandshake(c *Conn) {
	for {
		n, err := syscall.Read(c.Fd(), w.buf)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n == 0 {
			w.destroy(c)
			return
		}
		if w.headBytes(c, w.buf[:n]) {
			return
		}
	}
}

// headBytes adds p to the request head read so far (held in the
// connection's inbound state) and, once the head is complete, dispatches
// it. It returns true when the head was dispatched or rejected: reading the
// head is over, and the inbound state is given back unless frames sent
// right behind the head left some of theirs.
func (w *worker) headBytes(c *Conn, p []byte) bool {
	if c.in == nil {
		// The whole head in one read, as clients send it: dispatched
		// from p, the worker's read buffer, without a copy or an inbound
		// state.
		if i := bytes.Index(p, headEnd); i >= 0 {
			w.headDone(c, p, i+len(headEnd), false)
			return true
		}
	}
	in := w.s.inboundFor(c)
	from := max(0, len(in.head)-3)
	in.head = append(in.head, p...)
	i := bytes.Index(in.head[from:], headEnd)
	if i >= 0 {
		data := in.head
		in.head = nil
		w.headDone(c, data, from+i+len(headEnd), true)
		return true
	}
	if len(in.head) > w.s.lim().MaxHeaderBytes {
		w.s.stats.headerTooLarge.Add(1)
		w.reject(c, respHeaderTooLarge)
		return true
	}
	return false
}

// headDone dispatches the complete request head data[:end] (the rest of
// data is what the client sent behind it), or rejects it when it is over
// the limit. owned: data is the connection's to keep, not a buffer that
// is reused once the turn is over.
func (w *worker) headDone(c *Conn, data []byte, end int, owned bool) {
	if end > w.s.lim().MaxHeaderBytes {
		w.s.stats.headerTooLarge.Add(1)
		w.reject(c, respHeaderTooLarge)
		return
	}
	w.dispatch(c, data, end, owned)
	w.s.settleInbound(c)
}

// dispatch routes a complete request head, data[:end]: the WebSocket paths
// are upgraded, anything else goes to net/http when a handoff listener
// exists. Nothing keeps data past the call but a hand-off to net/http,
// which gets a copy unless data is owned (see headDone): the upgrade keeps
// strings, and frames behind the head go through ingest.
func (w *worker) dispatch(c *Conn, data []byte, end int, owned bool) {
	head, rest := data[:end], data[end:]
	if c.overIP {
		w.s.stats.rejectedPerIP.Add(1)
		w.reject(c, respTooManyFromAddr)
		return
	}
	if !w.s.upgrades(requestPath(head)) {
		if w.s.httpLn != nil {
			if !owned {
				data = bytes.Clone(data) // net/http reads it later
			}
			w.s.handoff(c, data)
			return
		}
		w.s.stats.notFound.Add(1)
		w.reject(c, respNotFound)
		return
	}
	c.mu.Lock()
	// Room for the response and the welcome Accept queues, so that
	// neither the welcome's push nor pushFront allocates an array.
	c.q.reserve(2)
	c.mu.Unlock()
	resp, sess, err := w.hs.upgrade(c, head)
	c.mu.Lock()
	c.q.pushFront(resp) // the response precedes anything Accept sent
	c.mu.Unlock()
	if err != nil {
		w.s.stats.rejected.Add(1)
		if !w.hs.handlerRefused {
			w.s.stats.malformed.Add(1)
		}
		c.flags |= rejecting
		return
	}
	w.s.stats.upgraded.Add(1)
	if c.deflate.Load() {
		w.s.stats.deflate.Add(1)
	}
	c.session = sess
	if ce := w.s.log.Check(zap.DebugLevel, "upgraded"); ce != nil {
		// The fd and the session's id side by side: the transport's lines
		// and the core's about one client join up here.
		ce.Write(zap.String("conn", c.id), zap.Int("fd", c.Fd()), zap.Stringer("remote", c.RemoteAddr()))
	}
	now := w.s.now()
	c.ping.Store(pingDue(now + jitter(int64(w.s.opts.PingInterval))))
	// State first: the sweeper reads the state, then the deadline, and must
	// never see "handshake" with the cleared deadline.
	c.state.Store(stateOpen)
	c.deadline.Store(0)
	if len(rest) > 0 && w.ingest(c, rest) { // frames sent right behind the request
		w.trackMessage(c)
	}
	if c.pending.Load()&pendClose != 0 { // Accept closed it already
		c.pending.And(^pendClose)
		w.beginClose(c)
	}
}

// reject queues a canned HTTP error response and closes after it is written.
func (w *worker) reject(c *Conn, resp []byte) {
	w.s.stats.rejected.Add(1)
	if c.in != nil {
		c.in.head = nil
		w.s.settleInbound(c)
	}
	c.mu.Lock()
	c.q.push(entry{b: resp})
	c.mu.Unlock()
	c.flags |= rejecting
}

// upgrades reports whether path is Options.Path or one of ExtraPaths. The
// string conversions in the comparisons do not allocate.
func (s *Server) upgrades(path []byte) bool {
	if string(path) == s.opts.Path {
		return true
	}
	for _, p := range s.opts.ExtraPaths {
		if string(path) == p {
			return true
		}
	}
	return false
}

// pathString returns path as a string: Options.Path or the one of
// ExtraPaths it equals (every upgraded request's, without an allocation),
// or a copy.
func (s *Server) pathString(path []byte) string {
	if string(path) == s.opts.Path {
		return s.opts.Path
	}
	for _, p := range s.opts.ExtraPaths {
		if string(path) == p {
			return p
		}
	}
	return string(path)
}

// requestPath returns the path of the request line "GET /path?query HTTP/1.1".
func requestPath(head []byte) []byte {
	sp := bytes.IndexByte(head, ' ')
	if sp < 0 {
		return nil
	}
	uri := head[sp+1:]
	if end := bytes.IndexAny(uri, " ?\r"); end >= 0 {
		uri = uri[:end]
	}
	return uri
}

// handshaker runs gobwas/ws's zero-copy Upgrader on a complete request head.
// Each worker owns one, so its callbacks and buffers are reused without locks.
type handshaker struct {
	s    *Server
	up   ws.Upgrader
	c    *Conn
	req  Request
	sess Session
	// flate negotiates permessage-deflate; reset for each upgrade.
	flate wsflate.Extension
	rd    bytes.Reader
	out   bytes.Buffer
	// handlerRefused: the last upgrade's error was the Handler's, which
	// counts its own refusals; otherwise gobwas/ws refused the request.
	handlerRefused bool
}

func newHandshaker(s *Server) *handshaker {
	h := &handshaker{s: s}
	h.up = ws.Upgrader{
		OnRequest:       h.onRequest,
		OnHost:          h.onHost,
		OnHeader:        h.onHeader,
		ProtocolCustom:  h.onProtocol,
		OnBeforeUpgrade: h.onBeforeUpgrade,
		Negotiate:       h.negotiate,
	}
	h.flate.Parameters = deflateParams
	return h
}

// upgrade returns the HTTP response to send (101 or an error status; never
// empty) and, on success, the session the handler created.
func (h *handshaker) upgrade(c *Conn, head []byte) ([]byte, Session, error) {
	h.c, h.sess, h.handlerRefused = c, nil, false
	if resp := checkHead(head); resp != nil {
		h.c = nil
		return resp, nil, errBadHead
	}
	h.req = Request{RemoteAddr: c.RemoteAddr()}
	h.rd.Reset(head)
	h.out.Reset()
	h.flate.Reset()
	_, err := h.up.Upgrade(h)
	resp := bytes.Clone(h.out.Bytes())
	if len(resp) == 0 {
		// gobwas/ws gives up on a request line it cannot parse without
		// answering; the client still gets a status, and the write queue
		// never sees an empty response.
		resp = respBadRequest
	}
	sess := h.sess
	h.c, h.sess, h.req = nil, nil, Request{}
	if err == nil && sess == nil {
		err = errors.New("netpoll: handler returned no session")
	}
	return resp, sess, err
}

// Read and Write make the handshaker the upgrader's connection: it reads the
// collected head and writes the response into a buffer.
func (h *handshaker) Read(p []byte) (int, error)  { return h.rd.Read(p) }
func (h *handshaker) Write(p []byte) (int, error) { return h.out.Write(p) }

func (h *handshaker) onRequest(uri []byte) error {
	path, query, _ := bytes.Cut(uri, []byte{'?'})
	h.req.Path, h.req.RawQuery = h.s.pathString(path), string(query)
	return nil
}

func (h *handshaker) onHost(host []byte) error {
	h.req.Host = string(host)
	return nil
}

func (h *handshaker) onHeader(key, value []byte) error {
	switch {
	case bytes.EqualFold(key, []byte("Origin")):
		h.req.Origin = string(value)
	case bytes.EqualFold(key, []byte("Authorization")):
		h.req.Auth = string(value)
	case bytes.EqualFold(key, []byte("Cookie")):
		if h.req.Cookie != "" {
			h.req.Cookie += "; "
		}
		h.req.Cookie += string(value)
	}
	return nil
}

// onProtocol records every offered subprotocol (a browser's only way to send
// a token is one of them) and selects Options.Subprotocol when offered.
func (h *handshaker) onProtocol(v []byte) (string, bool) {
	chosen := false
	for p := range bytes.SplitSeq(v, []byte{','}) {
		p = bytes.TrimSpace(p)
		if len(p) == 0 {
			continue
		}
		h.req.Protocols = append(h.req.Protocols, string(p))
		if string(p) == h.s.opts.Subprotocol {
			chosen = true
		}
	}
	if chosen {
		return h.s.opts.Subprotocol, true
	}
	return "", true
}

func (h *handshaker) onBeforeUpgrade() (ws.HandshakeHeader, error) {
	// The extensions were negotiated while the headers were read: the
	// handler sees the outcome in Accept (Conn.Deflate).
	if _, ok := h.flate.Accepted(); ok {
		h.c.deflate.Store(true)
	}
	sess, err := h.s.opts.Handler.Accept(h.c, &h.req)
	if err == nil {
		h.sess = sess
		return nil, nil
	}
	h.handlerRefused = true
	status, reason, header := http.StatusInternalServerError, "internal error", http.Header{}
	var he *HTTPError
	if errors.As(err, &he) {
		status, reason = he.Status, he.Reason
		if he.Header != nil {
			header = he.Header.Clone()
		}
	} else {
		h.s.log.Warn("handler failed an upgrade", zap.Error(err))
	}
	header.Set("Connection", "close")
	return nil, ws.RejectConnectionError(
		ws.RejectionStatus(status),
		ws.RejectionReason(reason),
		ws.RejectionHeader(ws.HandshakeHeaderHTTP(header)),
	)
}

var (
	respBadRequest = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n" +
		"Content-Length: 18\r\nConnection: close\r\n\r\nmalformed request\n")
	respNotFound = []byte("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n" +
		"Content-Length: 10\r\nConnection: close\r\n\r\nnot found\n")
	respHeaderTooLarge = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 25\r\nConnection: close\r\n\r\nrequest header too large\n")
)
