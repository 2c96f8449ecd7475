"""Webhook signatures.

The Standard Webhooks convention (standardwebhooks.com): `webhook-id`, `webhook-timestamp`
(unix seconds) and `webhook-signature`, one `v1,<base64 HMAC-SHA256>` of
`"{id}.{timestamp}.{body}"` per secret, space-separated while a secret is being rotated.
Receivers verify it with the `standardwebhooks` package and dedupe on `webhook-id`.

Deprecated, sent for one more release so receivers can move over:
`X-Porgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]` over f"{t}." followed
by the body, keyed with the secret string as configured, and `X-Porgate-Notification-Id`.

Either MAC covers the exact body bytes, so a receiver must verify the raw body before
parsing it; the timestamp bounds how long a captured request can be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from services.common.webhook_secret import WebhookSecret

WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"

# Deprecated: superseded by webhook-signature and webhook-id; removed in the next release.
HEADER = "X-Porgate-Signature"
ID_HEADER = "X-Porgate-Notification-Id"


def sign_standard(key: bytes, msg_id: str, t: int, body: bytes) -> str:
    """One `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of id.timestamp.body."""
    mac = hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(
    secrets: Sequence[WebhookSecret], msg_id: str, body: bytes, t: int
) -> dict[str, str]:
    """Every signature header of one attempt: `msg_id` stays the same across retries, `t` does not."""
    if not secrets:
        raise ValueError("no secret to sign with")
    return {
        WEBHOOK_ID: msg_id,
        WEBHOOK_TIMESTAMP: str(t),
        WEBHOOK_SIGNATURE: " ".join(sign_standard(s.key, msg_id, t, body) for s in secrets),
        HEADER: f"t={t}," + ",".join(f"v1={_mac(s.text, body, t)}" for s in secrets),
        ID_HEADER: msg_id,
    }


def verify_standard(
    key: bytes,
    body: bytes,
    headers: Mapping[str, str],
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """A receiver's check, for `porgate dev`'s sink (receivers elsewhere use `standardwebhooks`):
    some v1 value signs id.timestamp.body with `key`, and the timestamp is within `tolerance_s`."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp = lower.get(WEBHOOK_ID), lower.get(WEBHOOK_TIMESTAMP, "")
    if not msg_id or not stamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance_s:
        return False
    expected = sign_standard(key, msg_id, int(stamp), body).encode()
    ok = False
    for candidate in lower.get(WEBHOOK_SIGNATURE, "").split(" "):
        ok |= hmac.compare_digest(expected, candidate.encode())
    return ok


# ----------------------------------------------------------------------------- deprecated


def _mac(secret: bytes, body: bytes, t: int) -> str:
    return hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, t: int) -> str:
    """The deprecated X-Porgate-Signature value for `body` sent at unix time `t`."""
    return f"t={t},v1={_mac(secret, body, t)}"


def verify(
    secret: bytes, body: bytes, header: str | None, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """True if the deprecated `header` signs `body` with `secret` and its timestamp is within
    `tolerance_s` of now. New receivers verify webhook-signature with `standardwebhooks`.

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
