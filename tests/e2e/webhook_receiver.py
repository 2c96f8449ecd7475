"""A distributor's webhook endpoint for the e2e tests, served over real HTTP by uvicorn."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from typing import Self

import standardwebhooks
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifier.signing import HEADER, ID_HEADER, WEBHOOK_ID, WEBHOOK_TIMESTAMP, verify

SECRET = "whsec_" + base64.b64encode(b"e2e-test-webhook-key-32-bytes-ok").decode()


class Receiver:
    """A distributor's webhook endpoint: verifies each delivery as the Standard Webhooks
    convention tells receivers to (the `standardwebhooks` package), and the deprecated
    X-Porgate-Signature too, and records what it accepted."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[dict] = []  # every attempt
        self.delivered: list[dict] = []  # bodies answered 2xx
        self.status = 200
        self.retry_after: str | None = None  # sent with a status >= 300
        self.answer_next: list[int] = []  # statuses for the next requests, before `status`
        self.hang_next = 0  # the next N requests hang past the client's timeout
        self.hang_s = 3.0
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            standardwebhooks.Webhook(self.secret).verify(body, dict(request.headers))
            standard = True
        # The package raises ValueError, not its own error, on a malformed signature header.
        except (standardwebhooks.WebhookVerificationError, ValueError):
            standard = False
        legacy = verify(self.secret.encode(), body, request.headers.get(HEADER))
        self.requests.append(
            {
                "id": request.headers.get(WEBHOOK_ID),
                "legacy_id": request.headers.get(ID_HEADER),
                "timestamp": request.headers.get(WEBHOOK_TIMESTAMP),
                "signed": standard and legacy,
                "content_type": request.headers.get("content-type"),
                "at": time.monotonic(),
                "received": time.time(),
                "body": body,
                "headers": dict(request.headers),
            }
        )
        if not (standard and legacy):
            return Response(status_code=401)
        if self.hang_next > 0:
            self.hang_next -= 1
            await asyncio.sleep(self.hang_s)
            return Response(status_code=200)
        status = self.answer_next.pop(0) if self.answer_next else self.status
        if status >= 300:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return Response("receiver trouble", status_code=status, headers=headers)
        payload = json.loads(body)
        assert payload["notificationId"] == request.headers.get(WEBHOOK_ID)
        assert request.headers.get(ID_HEADER) == request.headers.get(WEBHOOK_ID)
        self.delivered.append(payload)
        return Response(status_code=204)

    def of_kind(self, kind: str) -> list[dict]:
        return [p for p in self.delivered if p["kind"] == kind]

    async def __aenter__(self) -> Self:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = Starlette(routes=[Route("/hook", self._endpoint, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task
