"""PublishStream: POST /v1/publish/stream, for publishing continuously.

One long HTTP/1.1 request whose chunked body is NDJSON, one event per line,
written without waiting for answers; the daemon answers with one ack line
per event, in order, while the body is still being sent. http.client
cannot read an answer before its request is finished, so the exchange is
written by hand on a socket: a writer thread sends everything queued since
its last write as one chunk, and a reader thread parses the acks.
"""

from __future__ import annotations

import collections
import json
import socket
import ssl
import threading
import uuid
from concurrent.futures import Future
from typing import Any, Deque, Dict, List, Optional, Tuple

from .errors import FanoutConnectionError, api_error
from .publisher import Position

#: Events sent and not yet acknowledged before publish() blocks.
DEFAULT_WINDOW = 4096


class PublishStream:
    """A persistent publish stream; use Publisher.stream().

    publish() returns a Future that resolves to the event's Position at its
    ack, or fails with an ApiError (the status and error /v1/publish would
    have answered; index is the event's number in the stream) or a
    FanoutConnectionError when the stream broke first. publish() blocks
    while window events are unacknowledged: that is the backpressure. Safe
    to call from several threads; close() once (or use it as a context
    manager), which waits for every ack.
    """

    def __init__(self, sock: socket.socket, head: bytes, window: int = DEFAULT_WINDOW) -> None:
        self._sock = sock
        self._window = threading.Semaphore(window if window > 0 else DEFAULT_WINDOW)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queued: List[bytes] = []
        self._inflight: Deque[Future] = collections.deque()
        self._closing = False
        self._error: Optional[BaseException] = None
        self.acked = 0
        sock.sendall(head)
        self._writer = threading.Thread(target=self._write_loop, name="fanoutd-stream-writer", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="fanoutd-stream-reader", daemon=True)
        self._writer.start()
        self._reader.start()

    def __enter__(self) -> "PublishStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def publish(
        self, channel: str, type: str, payload: Any = None, *, idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> "Future[Position]":
        """Queues one event; every event carries an idempotency key (the
        given one or a random UUID) so resending after a break is safe.
        timeout bounds the wait for room in the window (None: no bound)."""
        ev: Dict[str, Any] = {"channel": channel, "type": type,
                              "idempotency_key": idempotency_key or str(uuid.uuid4())}
        if payload is not None:
            ev["payload"] = payload
        line = json.dumps(ev, separators=(",", ":")).encode() + b"\n"
        if not self._window.acquire(timeout=timeout):
            raise TimeoutError("fanoutd: publish stream window full")
        fut: "Future[Position]" = Future()
        with self._lock:
            if self._error is not None or self._closing:
                self._window.release()
                raise FanoutConnectionError("fanoutd: publish stream %s" % ("broken: %s" % self._error if self._error else "closed"))
            self._inflight.append(fut)
            self._queued.append(line)
            self._wake.notify()
        return fut

    def close(self, timeout: Optional[float] = None) -> None:
        """Ends the body once everything queued is sent and waits for every
        ack; raises the error that broke the stream, if it broke."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._writer.join(timeout)
        self._reader.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass
        if self._error is not None:
            raise FanoutConnectionError("fanoutd: publish stream broken: %s" % self._error)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._queued and not self._closing and self._error is None:
                    self._wake.wait()
                if self._error is not None:
                    return
                data, self._queued = b"".join(self._queued), []
                closing = self._closing
            try:
                if data:
                    self._sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                    continue  # what was queued meanwhile goes before the end
                if closing:
                    self._sock.sendall(b"0\r\n\r\n")
                    return
            except OSError as e:
                self._fail(e)
                return

    def _read_loop(self) -> None:
        try:
            with self._sock.makefile("rb") as f:
                self._read_acks(f)
        except (OSError, ValueError) as e:
            self._fail(e)

    def _read_acks(self, f: Any) -> None:
        status, headers = _read_head(f)
        if status != 200:
            body = f.read(int(headers.get("content-length", "0") or 0))
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = {"error": body.decode(errors="replace").strip() or "HTTP %d" % status}
            self._fail(api_error(status, parsed, headers.get("retry-after")))
            return
        for line in _chunked_lines(f):
            if line.strip():
                self._ack(json.loads(line))
        with self._lock:
            left = len(self._inflight)
        if left:
            self._fail(EOFError("stream ended with %d events unacknowledged" % left))

    def _ack(self, ack: Dict[str, Any]) -> None:
        with self._lock:
            fut = self._inflight.popleft()
            self.acked += 1
        self._window.release()
        if ack.get("status"):
            fut.set_exception(api_error(ack["status"], {"error": ack.get("error", ""), "index": ack.get("index")}, None))
        else:
            fut.set_result(Position(ack["channel"], ack["offset"], ack["epoch"], bool(ack.get("duplicate"))))

    def _fail(self, err: BaseException) -> None:
        with self._lock:
            if self._error is not None:
                return
            self._error = err
            pending = list(self._inflight)
            self._inflight.clear()
            self._wake.notify_all()
        exc = err if isinstance(err, Exception) and hasattr(err, "status") else FanoutConnectionError(
            "fanoutd: publish stream: %s" % err)
        for fut in pending:
            fut.set_exception(exc)
            self._window.release()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def open_stream(
    socket_path: Optional[str], host: Optional[Tuple[str, str, Optional[int]]], path: str,
    headers: Dict[str, str], timeout: Optional[float], window: int,
) -> PublishStream:
    """Connects (Unix socket, or (scheme, host, port)) and starts the request."""
    if socket_path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(socket_path)
        hostname = "fanoutd"
    else:
        assert host is not None
        scheme, hostname, port = host
        sock = socket.create_connection((hostname, port or (443 if scheme == "https" else 80)), timeout=timeout)
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=hostname)
    sock.settimeout(None)  # a stream waits as long as its publisher
    lines = ["POST %s HTTP/1.1" % path, "Host: %s" % hostname, "Content-Type: application/x-ndjson",
             "Accept: application/x-ndjson", "Transfer-Encoding: chunked"]
    lines += ["%s: %s" % kv for kv in headers.items() if kv[0] != "Accept"]
    return PublishStream(sock, ("\r\n".join(lines) + "\r\n\r\n").encode(), window)


def _read_head(f: Any) -> Tuple[int, Dict[str, str]]:
    status_line = f.readline(65536)
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError("not an HTTP answer: %r" % status_line[:80])
    headers: Dict[str, str] = {}
    while True:
        line = f.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            return int(parts[1]), headers
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()


def _chunked_lines(f: Any) -> Any:
    """Yields the lines of a chunked body as they complete."""
    buf = b""
    while True:
        size_line = f.readline(1024)
        if not size_line:
            raise EOFError("stream cut in a chunk header")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            f.readline(1024)  # the final CRLF (no trailers are sent)
            if buf:
                yield buf
            return
        data = f.read(size)
        f.read(2)
        buf += data
        *done, buf = buf.split(b"\n")
        yield from done
