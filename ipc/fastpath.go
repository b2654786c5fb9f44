package ipc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// The fast path serves POST /v1/publish on the Unix socket without
// net/http's connection machinery, which was ~80% of a single-event
// publish's CPU (a background read per request that parks and is woken by
// a deadline, header maps rebuilt per request, a response writer with its
// own buffers). It reads one request head from the connection's buffer and,
// only when it is a plain one (POST /v1/publish HTTP/1.1, a Host, a
// Content-Length of at most fastMaxBody, no Transfer-Encoding, Expect or
// Upgrade header, no Connection header but "keep-alive", no repeated header, every byte of the head
// valid), calls the server's own Handler with a Request and a
// ResponseWriter reused for the connection's life. Anything else hands the
// connection, bytes already read included, to net/http for good, through
// the listener's Accept: net/http then answers it exactly as before. So
// routing, the peer check, reloads (the server's Handler is the swap
// handler) and every answer stay the handler's; only the framing of the
// common request is done here.
//
// It is switched on by NewHTTPServer's BaseContext when the server is
// given a *UnixListener, so the composition root needs no change; TCP is
// never fast-pathed (bearer keys and proxies are net/http's business).
// Closing the listener (Shutdown does) wakes idle fast connections and
// waits for requests in progress.

const (
	fastMaxHead = 4096     // a longer head goes to net/http
	fastMaxBody = 64 << 10 // a larger body goes to net/http
	fastIdle    = 60 * time.Second
	fastWrite   = 30 * time.Second
)

// fastPath is one listener's fast path; its fields after construction are
// immutable except conns (under mu).
type fastPath struct {
	srv     *http.Server
	base    context.Context
	inner   net.Listener
	handoff chan net.Conn // connections for net/http
	errc    chan error    // accept errors for net/http
	closed  chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{} // fast connections, to wake on close
	wg    sync.WaitGroup        // fast connection goroutines
}

// newFastPathIdle builds a fast path; its acceptLoop is started by the
// caller once the path is installed.
func newFastPathIdle(srv *http.Server, base context.Context, inner net.Listener) *fastPath {
	return &fastPath{srv: srv, base: base, inner: inner, handoff: make(chan net.Conn), errc: make(chan error),
		closed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
}

// acceptLoop accepts for both paths: every connection starts fast. It
// holds one count of wg (added by enableFastPath) until the listener is
// closed.
func (fp *fastPath) acceptLoop() {
	defer fp.wg.Done()
	for {
		c, err := fp.inner.Accept()
		if err != nil {
			select {
			case fp.errc <- err:
			case <-fp.closed:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		fp.track(c)
		go fp.serve(c)
	}
}

// accept is the listener's Accept while the fast path is on.
func (fp *fastPath) accept() (net.Conn, error) {
	select {
	case c := <-fp.handoff:
		return c, nil
	case err := <-fp.errc:
		return nil, err
	case <-fp.closed:
		return nil, net.ErrClosed
	}
}

func (fp *fastPath) track(c net.Conn) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.conns[c] = struct{}{}
	// Never from zero: the accept loop holds one (enableFastPath), so a
	// connection accepted as the path closes is still served (briefly:
	// serve) and waited for, not reset with its request unread.
	fp.wg.Add(1)
}

func (fp *fastPath) untrack(c net.Conn) {
	fp.mu.Lock()
	delete(fp.conns, c)
	fp.mu.Unlock()
	fp.wg.Done()
}

// close stops the fast path: idle connections are woken and closed, and
// requests in progress finish first. Called once, by the listener's Close.
func (fp *fastPath) close() {
	fp.mu.Lock()
	close(fp.closed)
	for c := range fp.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	fp.mu.Unlock()
	fp.wg.Wait()
}

// prefixConn is a connection handed to net/http with the bytes the fast
// path had already buffered.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// unixConn lets PeerCredContext see through the wrapper.
func (c *prefixConn) unixConn() net.Conn { return c.Conn }

// fastConn is one connection's reusable request state.
type fastConn struct {
	c     net.Conn
	br    *bufio.Reader
	req   *http.Request
	w     fastWriter
	url   url.URL
	body  bytes.Reader
	buf   []byte
	hdrs  []fastHeader // values seen before, reused while they repeat
	date  []byte
	dateS int64
}

type fastHeader struct {
	key string   // canonical
	val []string // one value
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func (fp *fastPath) serve(c net.Conn) {
	defer fp.untrack(c)
	fc := &fastConn{c: c, br: bufio.NewReaderSize(c, fastMaxHead)}
	fc.url.Path = "/v1/publish"
	fc.req = (&http.Request{Method: http.MethodPost, URL: &fc.url, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		RequestURI: "/v1/publish", RemoteAddr: c.RemoteAddr().String(), Header: http.Header{},
		Body: readCloser{&fc.body}}).WithContext(PeerCredContext(fp.base, c))
	fc.w.h = http.Header{}
	for {
		// While the path closes, a connection is read once more, briefly:
		// a request the client sent meanwhile is served, not reset.
		wait := fastIdle
		if fp.closing() {
			wait = fastClosingPeek
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		head, ok, err := fc.readHead()
		if err != nil && wait == fastIdle && fp.closing() {
			// Woken by close: a past deadline does not read what the
			// socket's buffer holds.
			_ = c.SetReadDeadline(time.Now().Add(fastClosingPeek))
			head, ok, err = fc.readHead()
		}
		if err != nil {
			_ = c.Close()
			return
		}
		if !ok {
			_ = c.SetReadDeadline(time.Time{})
			fp.handOff(&prefixConn{Conn: c, r: fc.br})
			return
		}
		if !fc.serveOne(fp.srv, head) {
			_ = c.Close()
			return
		}
	}
}

// fastClosingPeek is how long a connection woken by the fast path's close
// is read once more, for a request already on its way.
const fastClosingPeek = 20 * time.Millisecond

// closing reports that close began.
func (fp *fastPath) closing() bool {
	select {
	case <-fp.closed:
		return true
	default:
		return false
	}
}

func (fp *fastPath) handOff(c net.Conn) {
	select {
	case fp.handoff <- c:
	case <-fp.closed:
		_ = c.Close()
	}
}

// readHead waits for a whole request head in the buffer and parses it. ok
// is false when the request is not the fast path's; nothing is consumed
// then. err is a read error (EOF, deadline): the connection is done.
func (fc *fastConn) readHead() (int, bool, error) {
	if _, err := fc.br.Peek(1); err != nil {
		return 0, false, err
	}
	for {
		b, _ := fc.br.Peek(fc.br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return i + 4, fc.parseHead(b[:i+2]), nil
		}
		if len(b) >= fastMaxHead {
			return 0, false, nil
		}
		if _, err := fc.br.Peek(len(b) + 1); err != nil {
			if len(b) > 0 && !errors.Is(err, bufio.ErrBufferFull) {
				return 0, false, nil // let net/http answer the partial request
			}
			return 0, false, err
		}
	}
}

// parseHead fills fc.req from a head (each line ending in CRLF) and
// reports whether the fast path may serve it.
func (fc *fastConn) parseHead(head []byte) bool {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if string(line) != "POST /v1/publish HTTP/1.1" {
		return false
	}
	h := fc.req.Header
	clear(h)
	length, host := -1, false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !validName(name) {
			return false
		}
		value = bytes.Trim(value, " \t")
		if !validValue(value) {
			return false
		}
		key, val := fc.header(name, value)
		if _, dup := h[key]; dup {
			return false
		}
		switch key {
		case "Transfer-Encoding", "Expect", "Upgrade", "Trailer", "Te":
			return false
		case "Connection":
			// keep-alive is HTTP/1.1's default (Node's agent sends it
			// anyway); close, upgrade and hop-by-hop lists are net/http's.
			if !equalFoldASCII("keep-alive", []byte(val[0])) {
				return false
			}
		case "Content-Length":
			n, err := strconv.Atoi(val[0])
			if err != nil || n < 0 || n > fastMaxBody || val[0][0] == '+' {
				return false
			}
			length = n
		case "Host":
			host = true
			fc.req.Host = val[0]
		}
		h[key] = val
	}
	if length < 0 || !host {
		return false
	}
	fc.req.ContentLength = int64(length)
	return true
}

// header returns the canonical name and a one-value slice for a header
// line, reusing the strings of an earlier request when they repeat: a
// client sends the same headers every time, so they cost nothing after the
// first request.
func (fc *fastConn) header(name, value []byte) (string, []string) {
	for i := range fc.hdrs {
		e := &fc.hdrs[i]
		if equalFoldASCII(e.key, name) && e.val[0] == string(value) {
			return e.key, e.val
		}
	}
	e := fastHeader{key: http.CanonicalHeaderKey(string(name)), val: []string{string(value)}}
	if len(fc.hdrs) < 16 {
		fc.hdrs = append(fc.hdrs, e)
	}
	return e.key, e.val
}

// serveOne reads the body, runs the handler and writes its answer. false:
// the connection must be closed.
func (fc *fastConn) serveOne(srv *http.Server, headLen int) (ok bool) {
	if _, err := fc.br.Discard(headLen); err != nil {
		return false
	}
	n := int(fc.req.ContentLength)
	if cap(fc.buf) < n {
		fc.buf = make([]byte, n)
	}
	fc.buf = fc.buf[:n]
	if _, err := io.ReadFull(fc.br, fc.buf); err != nil {
		return false
	}
	fc.body.Reset(fc.buf)
	fc.w.reset()
	defer func() {
		if v := recover(); v != nil {
			// As net/http does: log, and drop the connection unanswered.
			if srv.ErrorLog != nil {
				srv.ErrorLog.Printf("ipc: panic serving a fast publish: %v", v)
			}
			ok = false
		}
	}()
	srv.Handler.ServeHTTP(&fc.w, fc.req)
	if cap(fc.buf) > fastMaxBody {
		fc.buf = nil
	}
	_ = fc.c.SetWriteDeadline(time.Now().Add(fastWrite))
	_, err := fc.c.Write(fc.w.encode(fc.dateHeader()))
	return err == nil && fc.w.h.Get("Connection") != "close"
}

// dateHeader is the Date value, formatted once a second.
func (fc *fastConn) dateHeader() []byte {
	now := time.Now()
	if s := now.Unix(); s != fc.dateS || fc.date == nil {
		fc.dateS = s
		fc.date = now.UTC().AppendFormat(fc.date[:0], http.TimeFormat)
	}
	return fc.date
}

// fastWriter is the ResponseWriter of the fast path: the whole answer is
// buffered and written with its Content-Length in one system call.
type fastWriter struct {
	h      http.Header
	status int
	body   []byte
	out    []byte
}

func (w *fastWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body = w.body[:0]
}

func (w *fastWriter) Header() http.Header { return w.h }

func (w *fastWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *fastWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *fastWriter) encode(date []byte) []byte {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	b := append(w.out[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	for k, vs := range w.h {
		if k == "Content-Length" || k == "Date" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	b = append(b, date...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(w.body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, w.body...)
	if cap(b) <= 2*fastMaxBody {
		w.out = b
	}
	if cap(w.body) > fastMaxBody {
		w.body = nil
	}
	return b
}

// validName: an RFC 9110 token.
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// validValue: no control characters other than tab.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// equalFoldASCII compares a header name with a canonical key, ignoring
// ASCII case, without converting either.
func equalFoldASCII(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := range b {
		x, y := s[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
