"""HS256 tokens for tests and development: what an application's backend
hands its browsers so that they can subscribe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Optional, Sequence, Union


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def mint_token(
    secret: Union[str, bytes],
    sub: str,
    channels: Sequence[str] = (),
    ttl_seconds: int = 600,
    info: Any = None,
    now: Optional[float] = None,
    **extra: Any,
) -> str:
    """An HS256 JWT for fanoutd: sub, channels (the patterns the connection
    may subscribe to), iat, exp = now + ttl_seconds, and info (shown in
    presence) when given. extra claims (aud, iss, ...) are merged in.
    secret is the daemon's auth.hmac_secret, at least 32 bytes."""
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(key) < 32:
        raise ValueError("mint_token: secret must be at least 32 bytes (the daemon refuses shorter ones)")
    if not sub:
        raise ValueError("mint_token: sub is required")
    iat = int(time.time() if now is None else now)
    claims = {"sub": sub, "channels": list(channels), "iat": iat, "exp": iat + ttl_seconds}
    claims.update(extra)
    if info is not None:
        claims["info"] = info
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing = ("%s.%s" % (head, body)).encode("ascii")
    return "%s.%s" % (signing.decode("ascii"), _b64url(hmac.new(key, signing, hashlib.sha256).digest()))
