"""What porgate does when Partner Center gives no answer: one policy for the validation API
and por-validator's gate.

- no credentials for the distributor: the registry decides, as the authority it is then
  (`registry`);
- Partner Center rejects the validation (a 400, a broken answer): waiting will not help, the
  registry decides (`registry_fallback`);
- an outage (unavailable, throttled, refused credentials), what an operator fixes or waits
  out, never the request's fault: once it has lasted past the wait the caller allows,
  PORGATE_PARTNER_CENTER_UNAVAILABLE decides: `registry` lets the registry decide
  (`registry_fallback`), `wait` waits on (the gate holds the batch; the API answers 503).
"""

from __future__ import annotations

from typing import Literal

from services.partner_center.errors import (
    AuthenticationFailed,
    NotConfigured,
    PartnerCenterError,
    Rejected,
    Throttled,
    Unavailable,
)

OUTAGES = (Unavailable, Throttled, AuthenticationFailed)
# When an outage gives no Retry-After, how long to say to stay away.
RETRY_AFTER_UNKNOWN_S = 30.0

Fallback = Literal["registry", "registry_fallback", "wait"]


def when_unanswered(
    exc: PartnerCenterError, *, when_unavailable: str, waited_out: bool
) -> Fallback:
    """Who decides without Partner Center's answer: the registry as the authority, the
    registry as the fallback, or nobody yet (`wait`). `waited_out`: the outage has lasted
    as long as the caller may wait."""
    if isinstance(exc, NotConfigured):
        return "registry"
    if isinstance(exc, Rejected):
        return "registry_fallback"
    if isinstance(exc, OUTAGES) and not (waited_out and when_unavailable == "registry"):
        return "wait"
    return "registry_fallback"


def retry_after_s(exc: PartnerCenterError) -> float:
    """How long to stay away after an outage: Partner Center's Retry-After when it gave one."""
    return exc.retry_after_s if isinstance(exc, Throttled) else RETRY_AFTER_UNKNOWN_S
