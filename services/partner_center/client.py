"""The Partner Center REST client: validateresellers, the indirect-reseller list, and a
reseller's Microsoft Partner Agreement status (compliance agreementstatus).

One request keeps its `MS-RequestId` across retries (Partner Center's idempotency key); each
HTTP call gets a new `MS-CorrelationId`, returned with its answer and logged with the
caller's event id. Per distributor (Microsoft throttles per partner tenant): a concurrency
limit, a shared "not before" time set by 429's `Retry-After`, and a circuit breaker. 5xx and
timeouts are retried with capped, jittered backoff; a 401 gets one fresh token and one retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from services.common import tracing
from services.common.retry import backoff_s, retry_after_s
from services.partner_center import metrics
from services.partner_center.auth import TokenKind, TokenProvider
from services.partner_center.breaker import BreakerState, CircuitBreaker
from services.partner_center.credentials import DistributorCredentials, load_credentials
from services.partner_center.errors import AuthenticationFailed, Rejected, Unavailable
from services.partner_center.models import (
    AgreementSignatureStatus,
    AgreementStatus,
    CallRecord,
    ErrorBody,
    IndirectResellers,
    RelationshipPage,
    Validation,
    ValidationResponse,
)
from services.partner_center.paging import CONTINUATION_HEADER, next_page
from services.partner_center.resilience import DistributorGuard
from services.partner_center.settings import PartnerCenterSettings

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

VALIDATE = "validate_resellers"
RELATIONSHIPS = "indirect_resellers"
AGREEMENT_STATUS = "agreement_status"
# The CSP program's name in the compliance API's path (Microsoft's example: compliance/csp).
CSP_PROGRAM = "csp"
INDIRECT_RESELLER_OF = "IsIndirectCloudSolutionProviderOf"
# A guard against a continuation that never ends; far beyond any distributor's reseller count.
MAX_PAGES = 10_000


class _Transient(Exception):
    """An attempt that may succeed if repeated: 5xx, a timeout, a dropped connection."""

    def __init__(self, reason: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s


class PartnerCenterClient:
    """Implements `services.partner_center.port.PartnerCenter` over HTTP."""

    def __init__(
        self,
        settings: PartnerCenterSettings,
        credentials: Mapping[str, DistributorCredentials],
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = settings.partner_center_url.rstrip("/")
        self.tokens = TokenProvider(
            credentials,
            authority_url=settings.entra_authority_url,
            margin_s=settings.partner_center_token_margin_s,
            timeout_s=settings.partner_center_timeout_s,
        )
        self.http = http or httpx.AsyncClient(timeout=settings.partner_center_timeout_s)
        self._guards: dict[str, DistributorGuard] = {}

    @classmethod
    def from_settings(cls, settings: PartnerCenterSettings) -> PartnerCenterClient:
        return cls(settings, load_credentials(settings.partner_center_credentials_file))

    def distributors(self) -> list[str]:
        """The distributors with credentials: the only ones Partner Center can answer for."""
        return sorted(self.tokens.credentials)

    def breaker_state(self, distributor_id: str) -> BreakerState:
        return self._guard(distributor_id).breaker.state

    async def validate_resellers(
        self,
        distributor_id: str,
        partner_ids: Sequence[str],
        *,
        event_id: str | None = None,
        patient: bool = True,
    ) -> list[Validation]:
        # Batches go one after another: a distributor's calls share its concurrency limit
        # with every other caller, and a failed batch stops the rest.
        ids = list(dict.fromkeys(partner_ids))
        size = self.settings.partner_center_batch_size
        validations: list[Validation] = []
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            response, call = await self.call(
                VALIDATE,
                distributor_id,
                TokenKind.APP,
                "POST",
                f"{self.base_url}/v1/partners/validateresellers",
                json={"partnerIds": batch},
                event_id=event_id,
                patient=patient,
            )
            answer = parse_answer(distributor_id, ValidationResponse, response)
            by_id = {result.partner_id: result for result in answer.validation_results}
            missing = [partner_id for partner_id in batch if partner_id not in by_id]
            if missing:
                raise Rejected(
                    distributor_id,
                    f"validateresellers answered for {len(batch) - len(missing)} of "
                    f"{len(batch)} ids (first missing: {missing[0]})",
                    status=response.status_code,
                )
            validations.extend(Validation(by_id[partner_id], call) for partner_id in batch)
        return validations

    async def indirect_resellers(
        self, distributor_id: str, *, event_id: str | None = None
    ) -> IndirectResellers:
        url = f"{self.base_url}/v1/relationships"
        params: dict[str, str] | None = {"relationship_type": INDIRECT_RESELLER_OF}
        headers: dict[str, str] = {}
        items, calls, seen = [], [], set()
        for _ in range(MAX_PAGES):
            response, call = await self.call(
                RELATIONSHIPS,
                distributor_id,
                TokenKind.APP_USER,
                "GET",
                url,
                params=params,
                headers=headers,
                event_id=event_id,
            )
            page = parse_answer(distributor_id, RelationshipPage, response)
            items.extend(page.items)
            calls.append(call)
            following = next_page(self.base_url, distributor_id, page, response)
            if following is None:
                return IndirectResellers(items=items, calls=calls)
            if following in seen:
                raise Rejected(distributor_id, "the relationships list pages in a circle")
            seen.add(following)
            url, token = following
            params, headers = None, ({CONTINUATION_HEADER: token} if token else {})
        raise Rejected(distributor_id, f"the relationships list has more than {MAX_PAGES} pages")

    async def agreement_status(
        self, distributor_id: str, partner_id: str, *, event_id: str | None = None
    ) -> AgreementStatus:
        # App+user only, as Microsoft documents it; by PLA id (mpnId), never with tenantId too.
        response, call = await self.call(
            AGREEMENT_STATUS,
            distributor_id,
            TokenKind.APP_USER,
            "GET",
            f"{self.base_url}/v1/compliance/{CSP_PROGRAM}/agreementstatus",
            params={"mpnId": partner_id},
            event_id=event_id,
        )
        answer = parse_answer(distributor_id, AgreementSignatureStatus, response)
        return AgreementStatus(partner_id, answer.is_agreement_signed, call)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.tokens.aclose()

    def _guard(self, distributor_id: str) -> DistributorGuard:
        guard = self._guards.get(distributor_id)
        if guard is None:
            s = self.settings
            gauge = metrics.PARTNER_CENTER_BREAKER.labels(distributor_id)
            gauge.set(BreakerState.CLOSED)
            breaker = CircuitBreaker(
                s.partner_center_breaker_threshold,
                s.partner_center_breaker_cooldown_s,
                on_change=gauge.set,
            )
            guard = DistributorGuard(distributor_id, s.partner_center_concurrency, breaker)
            self._guards[distributor_id] = guard
        return guard

    def _backoff_s(self, failures: int) -> float:
        s = self.settings
        return backoff_s(
            failures, s.partner_center_retry_initial_s, s.partner_center_retry_max_s, jitter=True
        )

    async def call(
        self,
        operation: str,
        distributor_id: str,
        kind: TokenKind,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        event_id: str | None = None,
        patient: bool = True,
    ) -> tuple[httpx.Response, CallRecord]:
        """One request, repeated as its failures allow, until it has a 2xx answer; not
        `patient`: one attempt, and Throttled rather than waiting out a Retry-After. Public for
        the calls kept in their own modules (customers.py, webhook_registration.py)."""
        self.tokens.credentials_of(distributor_id, kind)  # NotConfigured before anything else
        guard = self._guard(distributor_id)
        request_id = str(uuid.uuid4())  # the same on every retry of this request
        s = self.settings
        throttle_deadline = time.monotonic() + (s.partner_center_max_throttle_wait_s * patient)
        max_attempts = s.partner_center_max_attempts if patient else 1
        failures = 0
        refreshed_after_401 = False
        while True:
            try:
                async with guard.slots:
                    await guard.wait_out_throttle(throttle_deadline)
                    token = await self.tokens.token(distributor_id, kind)
                    if not guard.breaker.allow():
                        raise Unavailable(
                            distributor_id,
                            "Partner Center circuit open after repeated failures; next trial "
                            f"in {guard.breaker.retry_in_s():.1f} s",
                            breaker_open=True,
                        )
                    response, correlation_id = await self._send(
                        operation, distributor_id, guard, method, url, token, request_id,
                        json=json, params=params, headers=headers, event_id=event_id,
                    )  # fmt: skip
            except (_Transient, Unavailable) as exc:
                if isinstance(exc, Unavailable) and exc.breaker_open:
                    raise
                failures += 1
                reason = exc.reason if isinstance(exc, _Transient) else "token"
                if failures >= max_attempts:
                    raise Unavailable(
                        distributor_id, f"{operation} failed {failures} times; last: {exc}"
                    ) from None
                delay = self._backoff_s(failures)
                if isinstance(exc, _Transient) and exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                metrics.PARTNER_CENTER_RETRIES.labels(distributor_id, operation, reason).inc()
                await asyncio.sleep(delay)
                continue

            status = response.status_code
            if 200 <= status < 300:
                return response, CallRecord(request_id, correlation_id, datetime.now(UTC))
            if status == 429:
                wait = retry_after_s(response.headers.get("retry-after"))
                if wait is None:  # Microsoft always sends it; a gateway might not
                    wait = self._backoff_s(failures + 1)
                # A floor, so that "Retry-After: 0" over and over is not a busy loop.
                guard.throttled_for(max(wait, self.settings.partner_center_retry_initial_s))
                metrics.PARTNER_CENTER_RETRIES.labels(distributor_id, operation, "throttled").inc()
                continue
            if status == 401 and not refreshed_after_401:
                # Revoked or expired before its time: one fresh token, one more try.
                refreshed_after_401 = True
                self.tokens.discard(distributor_id, kind, token)
                metrics.PARTNER_CENTER_RETRIES.labels(
                    distributor_id, operation, "unauthorized"
                ).inc()
                continue
            body = _error_body(response)
            message = f"{operation} answered HTTP {status}: {body.code}: {body.description}"
            if status in (401, 403):
                raise AuthenticationFailed(distributor_id, message)
            raise Rejected(
                distributor_id,
                message,
                status=status,
                code=None if body.code is None else str(body.code),
                description=body.description,
            )

    async def _send(
        self,
        operation: str,
        distributor_id: str,
        guard: DistributorGuard,
        method: str,
        url: str,
        token: str,
        request_id: str,
        *,
        json: Any,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
        event_id: str | None,
    ) -> tuple[httpx.Response, str]:
        """One HTTP call, through the breaker's door; 5xx and transport failures raise _Transient."""
        correlation_id = str(uuid.uuid4())
        extra = {
            "distributor_id": distributor_id,
            "operation": operation,
            "request_id": request_id,
            "correlation_id": correlation_id,
            "event_id": event_id,
        }
        sent = {
            **(headers or {}),
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "MS-RequestId": request_id,
            "MS-CorrelationId": correlation_id,
            "MS-Contract-Version": "v1",
            "X-Locale": self.settings.partner_center_locale,
        }
        # A span per attempt, tagged as it is logged; a 5xx or transport failure marks it.
        tags = {f"porgate.{k}": v for k, v in extra.items() if v}
        with tracing.http_call(method, url, tags) as span:
            tracing.inject(sent)
            started = time.monotonic()
            try:
                response = await self.http.request(
                    method, url, json=json, params=params, headers=sent
                )
            except httpx.TimeoutException as exc:
                guard.breaker.failed()
                metrics.PARTNER_CENTER_CALLS.labels(distributor_id, operation, "timeout").inc()
                log.warning("Partner Center call timed out", extra=extra)
                raise _Transient("timeout", type(exc).__name__) from None
            except httpx.TransportError as exc:
                guard.breaker.failed()
                metrics.PARTNER_CENTER_CALLS.labels(distributor_id, operation, "error").inc()
                log.warning("Partner Center call failed", extra={**extra, "error": repr(exc)})
                raise _Transient("error", f"{type(exc).__name__}: {exc}") from None
            except BaseException:
                guard.breaker.abandoned()  # cancelled: says nothing about Partner Center
                raise
            finally:
                elapsed = time.monotonic() - started
                metrics.PARTNER_CENTER_LATENCY.labels(distributor_id, operation).observe(elapsed)
            status = response.status_code
            tracing.http_status(span, status)
            metrics.PARTNER_CENTER_CALLS.labels(distributor_id, operation, str(status)).inc()
            extra = {**extra, "status": status, "elapsed_s": round(elapsed, 3)}
            if status >= 500:
                guard.breaker.failed()
                log.warning("Partner Center call failed", extra=extra)
                raise _Transient(
                    "server_error",
                    f"HTTP {status}",
                    retry_after_s(response.headers.get("retry-after")),
                )
            guard.breaker.succeeded()  # any other answer proves the service is up
            level = logging.DEBUG if status < 400 else logging.WARNING
            log.log(level, "Partner Center call answered", extra=extra)
            return response, correlation_id


def parse_answer(distributor_id: str, model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise Rejected(
            distributor_id,
            f"the answer does not follow the documented shape: {exc.errors()[0]['msg']}",
            status=response.status_code,
        ) from None


def _error_body(response: httpx.Response) -> ErrorBody:
    try:
        return ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return ErrorBody(description=response.text[:300] or None)
