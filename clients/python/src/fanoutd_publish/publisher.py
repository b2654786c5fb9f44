"""Publisher: the daemon's publish API as methods.

Every event carries an idempotency key (the caller's, or a random UUID), so
a retry after a network error, a timeout, a 503 or a 504 can never publish
an event twice within the daemon's idempotency.window: the daemon answers
a repeated key with the first publish's position and duplicate true.
"""

from __future__ import annotations

import json
import random
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar
from urllib.parse import quote, urlencode

from .errors import ApiError, FanoutConnectionError, FanoutError, FanoutTimeoutError, api_error
from .transport import Transport

if TYPE_CHECKING:
    from .stream import PublishStream

T = TypeVar("T")

_MISSING: Any = object()


@dataclass(frozen=True)
class Position:
    """Where an event sits in its channel. duplicate: the idempotency key
    was already published, and this is the first publish's position."""

    channel: str
    offset: int
    epoch: str
    duplicate: bool = False


@dataclass(frozen=True)
class Published:
    """The answer to a batch: how many were published, one position each, in order."""

    published: int
    positions: List[Position]


class Publisher:
    """Publishes to one fanoutd daemon: socket_path (its Unix socket) or url
    (its TCP listener, e.g. "http://127.0.0.1:8080") with api_key.

    timeout (seconds, 5) bounds each attempt's connect and each read;
    retries (3) are made only on network errors, timeouts, 503 and 504,
    never on a 4xx, with full-jitter exponential backoff from backoff (0.1 s)
    capped at max_backoff (2 s), or Retry-After when longer. Safe to share
    between threads: each request uses its own connection.
    """

    def __init__(
        self,
        socket_path: Optional[str] = None,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._t = Transport(socket_path, url, api_key)
        self.timeout, self.retries = timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self._rand, self._sleep = rand, sleep

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stream(self, window: int = 4096) -> "PublishStream":
        """Opens a persistent publish stream (POST /v1/publish/stream) for
        publishing continuously: events are pipelined and acked one by one,
        in order; window caps the events in flight. See PublishStream."""
        return self._t.open_stream("/v1/publish/stream", self.timeout, window)

    def close(self) -> None:
        """Nothing is held between requests; kept for symmetry and `with`."""

    def publish(
        self,
        channel: str,
        type: str,
        payload: Any = _MISSING,
        *,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
    ) -> Position:
        """Publishes one event (payload: any JSON value, optional) and returns its position."""
        event: Dict[str, Any] = {"channel": channel, "type": type}
        if payload is not _MISSING:
            event["payload"] = payload
        if idempotency_key is not None:
            event["idempotency_key"] = idempotency_key
        return self.publish_batch([event], timeout=timeout, retries=retries).positions[0]

    def publish_batch(
        self, events: Sequence[Mapping[str, Any]], *, timeout: Optional[float] = None, retries: Optional[int] = None
    ) -> Published:
        """Publishes events in order. Each is a mapping with "channel" (or
        "projectId", the ADR-004 spelling of "project:<id>"), "type", and
        optionally "payload" and "idempotency_key". One invalid event raises
        InvalidEventsError and nothing is published."""
        if not events:
            raise ValueError("publish_batch: events must be a non-empty sequence")
        wire = []
        for e in events:
            w = dict(e)
            if not w.get("idempotency_key"):
                w["idempotency_key"] = str(uuid.uuid4())
            wire.append(w)
        try:
            body = json.dumps(wire, separators=(",", ":")).encode()
        except (TypeError, ValueError) as err:
            raise ValueError("publish_batch: payload is not JSON-encodable: %s" % err) from err
        answer = self._with_retries(lambda t: self._call("POST", "/v1/publish", body, t), timeout, retries)
        return Published(
            published=answer["published"],
            positions=[
                Position(p["channel"], p["offset"], p["epoch"], p.get("duplicate", False)) for p in answer["positions"]
            ],
        )

    def stats(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """GET /v1/stats: the daemon's counters."""
        return self._get("/v1/stats", timeout)

    def channels(self, *, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """GET /v1/channels: [{"channel", "subscribers", "offset", "epoch"}]."""
        return self._get("/v1/channels", timeout)["channels"]

    def presence(self, channel: str, *, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """GET /v1/channels/{channel}/presence: [{"connection_id", "user", "info"?, "node"?}]."""
        return self._get("/v1/channels/%s/presence" % quote(channel, safe=""), timeout)["clients"]

    def connection_events(
        self, after: Optional[int] = None, epoch: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> Iterator[Dict[str, Any]]:
        """GET /v1/events: yields connection events as they happen ({"seq",
        "epoch", "time", "type", "connection_id", "user", "channel"?,
        "code"?}, or {"type": "reset", ...}) until the daemon ends the
        stream. timeout bounds the wait for each line (None: forever). To
        resume, pass the last seq and epoch handled."""
        q = {k: v for k, v in (("after", after), ("epoch", epoch)) if v is not None}
        conn = self._t.connection(timeout)
        try:
            try:
                resp = self._t.send(conn, "GET", "/v1/events" + ("?" + urlencode(q) if q else ""), None)
            except socket.timeout as e:
                raise FanoutTimeoutError("fanoutd: no answer within %ss" % timeout) from e
            except OSError as e:
                raise FanoutConnectionError("fanoutd: %s" % e) from e
            if resp.status != 200:
                raise api_error(resp.status, _parse(resp.read()) or {}, resp.getheader("Retry-After"))
            while True:
                try:
                    line = resp.readline()
                except socket.timeout as e:
                    raise FanoutTimeoutError("fanoutd: no event within %ss" % timeout) from e
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    def _get(self, path: str, timeout: Optional[float]) -> Any:
        return self._with_retries(lambda t: self._call("GET", path, None, t), timeout, None)

    def _call(self, method: str, path: str, body: Optional[bytes], timeout: float) -> Any:
        status, headers, data = self._t.request(method, path, body, timeout)
        parsed = _parse(data)
        if 200 <= status < 300:
            if parsed is None:
                raise ApiError(status, {"error": "answer is not JSON: %r" % data[:200]})
            return parsed
        if not isinstance(parsed, dict):
            parsed = {"error": data[:256].decode("utf-8", "replace").strip() or "HTTP %d" % status}
        raise api_error(status, parsed, headers.get("retry-after"))

    def _with_retries(self, attempt: Callable[[float], T], timeout: Optional[float], retries: Optional[int]) -> T:
        t = self.timeout if timeout is None else timeout
        n_retries = self.retries if retries is None else retries
        n = 0
        while True:
            try:
                return attempt(t)
            except FanoutError as err:
                err.attempts = n + 1
                if not err.retryable or n >= n_retries:
                    raise
                delay = self._rand() * min(self.max_backoff, self.backoff * 2**n)
                retry_after = getattr(err, "retry_after", None)
                self._sleep(max(delay, retry_after or 0.0))
                n += 1


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None
