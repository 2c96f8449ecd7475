"""Partner Center's webhook registration API on the Partner Center stand-in, for the tests and
`porgate dev --demo`: one registration per tenant (POST creates, PUT updates, GET reads, 404
without one), the event names, and test events: at most 2 a minute per tenant (then 429 with
Retry-After, as Microsoft throttles), each answered with a correlation id and then signed by
the event signer stand-in and POSTed to the registered URL. Mount it before a Graph stand-in
copies the Partner Center stand-in's routes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.partner_center.event_signer import EventSigner, event_body
from services.partner_center.standin import PartnerCenterStandin, error_response
from services.partner_center.webhook_registration import DEFAULT_EVENTS, PATH

TESTS_PER_MINUTE = 2


class WebhookRegistrations:
    def __init__(self, standin: PartnerCenterStandin, signer: EventSigner | None = None) -> None:
        self.standin = standin
        self.signer = signer
        self.events = [*DEFAULT_EVENTS, "subscription-updated", "invoice-ready"]
        self.registrations: dict[str, dict[str, Any]] = {}
        self.deliveries: list[tuple[str, int]] = []  # (url, porgate's status), in order
        self._tests: dict[str, deque[float]] = defaultdict(deque)
        self._sending: set[asyncio.Task] = set()
        standin.app.router.routes.extend(
            [
                Route(f"{PATH}/events", self._events, methods=["GET"]),
                Route(PATH, self._registration, methods=["GET", "POST", "PUT"]),
                Route(f"{PATH}/validationEvents", self._test, methods=["POST"]),
            ]
        )

    async def _events(self, request: Request) -> Response:
        async def answer(issued) -> Response:
            return _ok(self.events)

        return await self.standin._api("webhook-events", request, answer)

    async def _registration(self, request: Request) -> Response:
        async def answer(issued) -> Response:
            held = self.registrations.get(issued.tenant_id)
            if request.method == "GET":
                return _ok(held) if held else error_response(404, "404", "No registration.")
            if (request.method == "PUT") != (held is not None):
                return error_response(409 if held else 404, "409", "POST creates, PUT updates.")
            try:
                body = await request.json()
                url, events = body["WebhookUrl"], body["WebhookEvents"]
            except (ValueError, KeyError, TypeError):
                return error_response(400, "400", "WebhookUrl and WebhookEvents are required.")
            unknown = [e for e in events if e not in self.events]
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or unknown:
                return error_response(
                    400, "400", f"invalid registration (unknown events: {unknown})"
                )
            self.registrations[issued.tenant_id] = {
                "SubscriberId": (held or {}).get("SubscriberId", str(uuid.uuid4())),
                "WebhookUrl": url,
                "WebhookEvents": events,
            }
            return _ok(self.registrations[issued.tenant_id])

        return await self.standin._api("webhook-registration", request, answer)

    async def _test(self, request: Request) -> Response:
        async def answer(issued) -> Response:
            held = self.registrations.get(issued.tenant_id)
            if held is None or "test-created" not in held["WebhookEvents"]:
                return error_response(400, "400", "Register for test-created first.")
            recent = self._tests[issued.tenant_id]
            now = time.monotonic()
            while recent and now - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= TESTS_PER_MINUTE:
                wait = 60 - (now - recent[0])
                return error_response(
                    429, "429", "2 test events a minute.", {"Retry-After": f"{wait:.0f}"}
                )
            recent.append(now)
            correlation_id = str(uuid.uuid4())
            if self.signer is not None:
                base = str(request.base_url).rstrip("/")
                body = event_body(
                    "test-created",
                    f"{base}{PATH}/validationEvents/{correlation_id}",
                    resource_name="test",
                )
                task = asyncio.create_task(self._deliver(held["WebhookUrl"], body))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            return _ok({"correlationId": correlation_id})

        return await self.standin._api("webhook-test", request, answer)

    async def _deliver(self, url: str, body: bytes) -> None:
        assert self.signer is not None
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                status = (await self.signer.deliver(url, body, client)).status_code
            except httpx.HTTPError:
                status = 0
        self.deliveries.append((url, status))


def _ok(body: Any) -> Response:
    return JSONResponse(body)
