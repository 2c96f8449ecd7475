"""Delivery: POST pending notifications to the distributor's webhook, signed, with retries.

Rows are claimed in a short transaction (a lease), and the HTTP call happens outside any
transaction, so a slow receiver holds no lock and no connection.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import httpx
from prometheus_client import Counter

from services.common.workers import WorkerContext, run_leased
from services.notifier import store
from services.notifier.signing import HEADER, ID_HEADER, sign

log = logging.getLogger(__name__)

BATCH = 20
DELIVERIES = Counter(
    "porgate_notification_deliveries_total", "Webhook delivery attempts, by result.", ["result"]
)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool = False
    retryable: bool = False
    error: str = ""


def body_of(payload: dict) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def delivery_outcome(status: int, text: str = "") -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True)
    error = f"HTTP {status}" + (f": {text[:200]}" if text else "")
    # 408 and 429 say "later"; 5xx is the receiver's trouble. Any other status will not change by retrying.
    return Outcome(retryable=status in (408, 429) or status >= 500, error=error)


async def post(
    client: httpx.AsyncClient, url: str, secret: bytes, notification_id: str, payload: dict
) -> Outcome:
    body = body_of(payload)
    headers = {
        "Content-Type": "application/json",
        HEADER: sign(secret, body, int(time.time())),
        ID_HEADER: notification_id,
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Outcome(retryable=True, error=f"timed out after {client.timeout.read}s")
    except httpx.HTTPError as exc:
        return Outcome(retryable=True, error=f"{type(exc).__name__}: {exc}")
    return delivery_outcome(response.status_code, response.text)


async def deliverer(ctx: WorkerContext) -> None:
    """The notifier's background worker."""
    settings = ctx.settings
    secret_value = (
        settings.notify_webhook_secret.get_secret_value() if settings.notify_webhook_secret else ""
    )
    if not settings.notify_webhook_url or not secret_value:
        # Unsigned notifications would be rejected (or worse, trusted): keep them queued.
        log.warning(
            "notifications are not delivered: PORGATE_NOTIFY_WEBHOOK_URL or PORGATE_NOTIFY_WEBHOOK_SECRET is not set;"
            " they stay pending until both are",
            extra={"service": ctx.service},
        )
        return
    url = settings.notify_webhook_url
    secret = secret_value.encode()
    timeout = settings.notify_webhook_timeout_s
    # The lease outlives the request, so a row is never sent twice at once.
    lease_s = timeout + settings.delivery_lease_margin_s
    pool = ctx.pool

    async def record(claim: store.Claimed, outcome: Outcome) -> None:
        if outcome.delivered:
            await store.mark_delivered(pool, claim)
            DELIVERIES.labels("delivered").inc()
        elif outcome.retryable and claim.attempts < settings.notify_max_attempts:
            delay = settings.delivery_backoff_s(claim.attempts)
            await store.schedule_retry(pool, claim, outcome.error, delay)
            DELIVERIES.labels("retry").inc()
        else:
            await store.mark_failed(pool, claim, outcome.error)
            DELIVERIES.labels("failed").inc()
            log.error(
                "notification delivery failed",
                extra={
                    "service": ctx.service,
                    "notification_id": claim.notification_id,
                    "attempts": claim.attempts,
                    "error": outcome.error,
                },
            )

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:

        async def deliver(claim: store.Claimed) -> None:
            outcome = await post(client, url, secret, claim.notification_id, claim.payload)
            if not outcome.delivered:
                log.warning(
                    "notification delivery attempt failed",
                    extra={
                        "service": ctx.service,
                        "notification_id": claim.notification_id,
                        "attempt": claim.attempts,
                        "error": outcome.error,
                    },
                )
            await ctx.retrying("notify-record", lambda: record(claim, outcome))

        await run_leased(
            ctx,
            "notification",
            claim=lambda: store.claim_due(pool, BATCH, lease_s),
            work=deliver,
            seconds_until_due=lambda: store.seconds_until_due(pool),
        )
