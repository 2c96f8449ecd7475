"""Delivery: POST pending notifications to the distributor's webhook, signed, with retries.

Rows are claimed in a short transaction (a lease), and the HTTP call happens outside any
transaction, so a slow receiver holds no lock and no connection. What an answer means and
what follows it is delivery.py's; this module does the I/O.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

import httpx

from services.common import tracing
from services.common.retry import Stopping, retry_after_s
from services.common.webhook_secret import WebhookSecret, parse_webhook_secret
from services.common.workers import WorkerContext, run_leased
from services.notifier import metrics, store
from services.notifier.delivery import Action, Outcome, delivery_outcome, next_step
from services.notifier.settings import NotifierSettings
from services.notifier.signing import signed_headers

log = logging.getLogger(__name__)

BATCH = 20


def body_of(payload: dict) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signing_secrets(settings: NotifierSettings) -> list[WebhookSecret]:
    """The current secret, then the one being retired, if any; empty if none is set."""
    values = (settings.notify_webhook_secret, settings.notify_webhook_secret_previous)
    return [
        parse_webhook_secret(v.get_secret_value())
        for v in values
        if v is not None and v.get_secret_value().strip()
    ]


async def post(
    client: httpx.AsyncClient,
    url: str,
    secrets: Sequence[WebhookSecret],
    notification_id: str,
    payload: dict,
) -> Outcome:
    body = body_of(payload)
    # The notification id is the webhook-id on every attempt, so receivers can dedupe; the
    # timestamp is each attempt's own, so a retry is not mistaken for a stale replay.
    headers = {
        "Content-Type": "application/json",
        **signed_headers(secrets, notification_id, body, int(time.time())),
    }
    with tracing.http_call("POST", url) as span:
        tracing.inject(headers)  # the receiver's traceparent: this request's span
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(retryable=True, error=f"timed out after {client.timeout.read}s")
        except httpx.HTTPError as exc:
            return Outcome(retryable=True, error=f"{type(exc).__name__}: {exc}")
        tracing.http_status(span, response.status_code)
    return delivery_outcome(
        response.status_code, response.text, retry_after_s(response.headers.get("Retry-After"))
    )


async def deliverer(ctx: WorkerContext) -> None:
    """The notifier's background worker."""
    settings = ctx.settings
    secrets = signing_secrets(settings)
    if not settings.notify_webhook_url or not settings.notify_webhook_secret or not secrets:
        # Unsigned notifications would be rejected (or worse, trusted): keep them queued.
        log.warning(
            "notifications are not delivered: PORGATE_NOTIFY_WEBHOOK_URL or PORGATE_NOTIFY_WEBHOOK_SECRET is not set;"
            " they stay pending until both are",
            extra={"service": ctx.service},
        )
        return
    if any(s.legacy for s in secrets):
        log.warning(
            "a webhook secret is not in the whsec_<base64> form: deprecated, and refused from the"
            ' next release; generate one with `python -c "import base64, os;'
            " print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"`",
            extra={"service": ctx.service},
        )
    url = settings.notify_webhook_url
    timeout = settings.notify_webhook_timeout_s
    # The lease outlives the request, so a row is never sent twice at once.
    lease_s = timeout + settings.delivery_lease_margin_s
    pool = ctx.pool
    extra = {"service": ctx.service}
    try:  # listed from now on, healthy or not (`porgate notifications endpoints`)
        await ctx.retrying("notify-register", lambda: store.register_endpoint(pool, url))
    except Stopping:
        return

    async def record(claim: store.Claimed, outcome: Outcome) -> None:
        step = next_step(
            outcome,
            claim.attempts,
            max_attempts=settings.notify_max_attempts,
            backoff_s=settings.delivery_backoff_s(claim.attempts),
            retry_after_max_s=settings.notify_retry_after_max_s,
        )
        if step.action is Action.DELIVERED:
            await store.mark_delivered(pool, claim)
            result = "delivered"
        elif step.action is Action.DISABLE:
            await store.disable_endpoint(pool, url, claim, outcome.error)
            metrics.ENDPOINT_DISABLED.set(1)
            result = "endpoint_gone"
            log.error(
                "the webhook endpoint answered 410 Gone: disabled; notifications wait until"
                " `porgate notifications enable`",
                extra={**extra, "notification_id": claim.notification_id},
            )
        elif step.action is Action.RETRY:
            if step.pause_endpoint:
                await store.pause_endpoint(pool, url, step.delay_s)
            await store.schedule_retry(pool, claim, outcome.error, step.delay_s)
            result = "throttled" if step.pause_endpoint else "retry"
        else:
            await store.mark_failed(pool, claim, outcome.error)
            result = "failed"
            log.error(
                "notification delivery failed",
                extra={
                    **extra,
                    "notification_id": claim.notification_id,
                    "attempts": claim.attempts,
                    "error": outcome.error,
                },
            )
        # Last: if it fails, the retry of `record` finds the outcome above already recorded
        # (its statements are guarded by the claim) and counts the attempt here only once.
        await store.note_attempt(pool, url, result)
        metrics.DELIVERIES.labels(result).inc()

    async def seconds_until_due() -> float | None:
        # Read each pass: an operator re-enables the endpoint from another process.
        metrics.ENDPOINT_DISABLED.set(1 if await store.endpoint_disabled(pool, url) else 0)
        return await store.seconds_until_due(pool, url)

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:

        async def deliver(claim: store.Claimed) -> None:
            with tracing.worked(
                "deliver notification",
                claim.traceparent,
                {
                    "porgate.notification_id": claim.notification_id,
                    "porgate.attempt": claim.attempts,
                },
            ):
                outcome = await post(client, url, secrets, claim.notification_id, claim.payload)
            if not outcome.delivered:
                log.warning(
                    "notification delivery attempt failed",
                    extra={
                        **extra,
                        "notification_id": claim.notification_id,
                        "attempt": claim.attempts,
                        "error": outcome.error,
                    },
                )
            await ctx.retrying("notify-record", lambda: record(claim, outcome))

        await run_leased(
            ctx,
            "notification",
            claim=lambda: store.claim_due(pool, url, BATCH, lease_s),
            work=deliver,
            seconds_until_due=seconds_until_due,
        )
