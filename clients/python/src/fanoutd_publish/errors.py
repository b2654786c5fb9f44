"""The exceptions the publisher raises; every one is a FanoutError.

The daemon's answers are ApiErrors carrying the fields of its body (see
api/openapi.yaml), with a subclass per kind of answer a caller handles
differently.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional


class FanoutError(Exception):
    """Every error of this package."""

    #: Whether the outcome is unknown or transient, so that a retry with the
    #: same idempotency keys is safe and may succeed.
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: How many attempts were made before this error was raised.
        self.attempts = 1


class FanoutConnectionError(FanoutError, ConnectionError):
    """The daemon could not be reached, or the connection broke mid-request: the outcome is unknown."""

    retryable = True


class FanoutTimeoutError(FanoutError, TimeoutError):
    """No answer within the timeout: the outcome is unknown (the events may have been published)."""

    retryable = True


class ApiError(FanoutError):
    """A non-2xx answer of the daemon.

    status is the HTTP status; error, published (events published before a
    failure), events (the invalid events of a 400 "invalid event", each
    {"index", "error"}), index and detail (400 "malformed JSON") and limit
    (413) are the body's fields.
    """

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(_describe(status, body))
        self.status = status
        self.body = dict(body)
        self.error: str = body.get("error", "")
        self.published: int = body.get("published", 0)
        self.events: List[Dict[str, Any]] = list(body.get("events", []))
        self.index: Optional[int] = body.get("index")
        self.detail: Optional[str] = body.get("detail")
        self.limit: Optional[int] = body.get("limit")


class InvalidEventsError(ApiError):
    """400 "invalid event": nothing was published; events lists each invalid event's index and error."""


class AuthError(ApiError):
    """401 (TCP: missing or wrong api.key) or 403 (Unix socket: this process is not allowed)."""


class PayloadTooLargeError(ApiError):
    """413: the request is over the daemon's limits.max_publish_bytes (limit); split the batch."""


class UnavailableError(ApiError):
    """503 (the broker is unavailable) or 504 (a proxy gave up: outcome unknown).

    retry_after is the Retry-After header in seconds, or None.
    """

    retryable = True

    def __init__(self, status: int, body: Mapping[str, Any], retry_after: Optional[float]) -> None:
        super().__init__(status, body)
        self.retry_after = retry_after


def api_error(status: int, body: Mapping[str, Any], retry_after: Optional[str]) -> ApiError:
    """The ApiError subclass for an answer."""
    if status == 400 and isinstance(body.get("events"), list):
        return InvalidEventsError(status, body)
    if status in (401, 403):
        return AuthError(status, body)
    if status == 413:
        return PayloadTooLargeError(status, body)
    if status in (503, 504):
        try:
            seconds: Optional[float] = max(0.0, float(retry_after)) if retry_after is not None else None
        except ValueError:
            seconds = None
        return UnavailableError(status, body, seconds)
    return ApiError(status, body)


def _describe(status: int, body: Mapping[str, Any]) -> str:
    msg = "fanoutd: %d %s" % (status, body.get("error") or "error")
    if body.get("detail"):
        msg += ": %s" % body["detail"]
    events = body.get("events")
    if isinstance(events, list) and events:
        msg += ": event %s: %s" % (events[0].get("index"), events[0].get("error"))
        if len(events) > 1:
            msg += " (and %d more)" % (len(events) - 1)
    if body.get("published"):
        msg += " (%d published)" % body["published"]
    return msg
