"""One HTTP exchange with the daemon, over its Unix socket or TCP.

http.client over AF_UNIX needs only a connect() of its own. Each exchange
uses a fresh connection, so a Publisher is safe to share between threads.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import TYPE_CHECKING, Dict, Optional, Tuple
from urllib.parse import urlsplit

from .errors import FanoutConnectionError, FanoutError, FanoutTimeoutError

if TYPE_CHECKING:
    from .stream import PublishStream

#: The largest answer read; the API's largest is a list of invalid events.
MAX_RESPONSE_BYTES = 4 << 20


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection to a Unix socket; the Host header says "fanoutd"."""

    def __init__(self, socket_path: str, timeout: Optional[float] = None) -> None:
        super().__init__("fanoutd", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Transport:
    """Where requests go: socket_path, or url with api_key."""

    def __init__(self, socket_path: Optional[str], url: Optional[str], api_key: Optional[str]) -> None:
        if (socket_path is None) == (url is None):
            raise ValueError("Publisher: give exactly one of socket_path and url")
        if url is not None and not api_key:
            raise ValueError("Publisher: the TCP API needs api_key (the daemon's api.key)")
        self._socket_path = socket_path
        self._headers: Dict[str, str] = {"Accept": "application/json"}
        self._prefix = ""
        if url is not None:
            u = urlsplit(url)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise ValueError("Publisher: url must be http://host:port or https://host:port")
            self._scheme, self._host, self._port = u.scheme, u.hostname, u.port
            self._prefix = u.path.rstrip("/")
            self._headers["Authorization"] = "Bearer " + str(api_key)

    def open_stream(self, path: str, timeout: Optional[float], window: int) -> "PublishStream":
        """Starts a publish stream (see stream.py); network failures become
        FanoutConnectionError."""
        from .stream import open_stream

        host = None if self._socket_path is not None else (self._scheme, self._host, self._port)
        try:
            return open_stream(self._socket_path, host, self._prefix + path, self._headers, timeout, window)
        except OSError as e:
            raise FanoutConnectionError("fanoutd: %s: %s" % (type(e).__name__, e)) from e

    def connection(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        if self._socket_path is not None:
            return UnixHTTPConnection(self._socket_path, timeout=timeout)
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def request(
        self, method: str, path: str, body: Optional[bytes], timeout: Optional[float]
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Sends one request and reads the whole answer; network failures
        become FanoutConnectionError and FanoutTimeoutError."""
        conn = self.connection(timeout)
        try:
            resp = self.send(conn, method, path, body)
            data = resp.read(MAX_RESPONSE_BYTES + 1)
            if len(data) > MAX_RESPONSE_BYTES:
                raise FanoutConnectionError("fanoutd: answer larger than %d bytes" % MAX_RESPONSE_BYTES)
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        except FanoutError:
            raise
        except socket.timeout as e:
            raise FanoutTimeoutError("fanoutd: no answer within %ss" % timeout) from e
        except (OSError, http.client.HTTPException) as e:
            raise FanoutConnectionError("fanoutd: %s: %s" % (type(e).__name__, e)) from e
        finally:
            conn.close()

    def send(self, conn: http.client.HTTPConnection, method: str, path: str, body: Optional[bytes]) -> http.client.HTTPResponse:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, self._prefix + path, body=body, headers=headers)
        return conn.getresponse()
