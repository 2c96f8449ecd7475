"""Webhook signatures: `X-Porgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The MAC covers f"{t}." followed by the exact body bytes, so a receiver must verify the raw
body before parsing it; the timestamp bounds how long a captured request can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Porgate-Signature"
ID_HEADER = "X-Porgate-Notification-Id"


def _mac(secret: bytes, body: bytes, t: int) -> str:
    return hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, t: int) -> str:
    """The header value for `body` sent at unix time `t`."""
    return f"t={t},v1={_mac(secret, body, t)}"


def verify(
    secret: bytes, body: bytes, header: str | None, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """True if `header` signs `body` with `secret` and its timestamp is within `tolerance_s` of now.

    Several v1 values are accepted (any may match), so a sender can sign with an old and a
    new secret while rotating.
    """
    if not header:
        return False
    t: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if name == "t":
            try:
                t = int(value)
            except ValueError:
                return False
        elif name == "v1":
            candidates.append(value)
    if t is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - t) > tolerance_s:
        return False
    expected = _mac(secret, body, t)
    # Compare every candidate, without an early exit, in constant time.
    ok = False
    for candidate in candidates:
        ok |= hmac.compare_digest(expected.encode(), candidate.encode())
    return ok
