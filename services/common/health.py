"""Health and metrics over HTTP for a service process: /healthz, /readyz, /metrics.

/metrics names every distributor and Partner Center's traffic: it is served on the health
port (PORGATE_HEALTH_PORT, inside the cluster), never on the API's. A failed check says
only which one failed and the kind of error: its message (hosts, ports, database users)
goes to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common import metrics

Check = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)


def database_check(pool_getter: Callable[[], asyncpg.Pool | None]) -> Check:
    async def check() -> None:
        pool = pool_getter()
        if pool is None:
            raise RuntimeError("not started")
        async with asyncio.timeout(2):
            await pool.fetchval("SELECT 1")

    return check


def broker_check(producer: AIOKafkaProducer) -> Check:
    async def check() -> None:
        async with asyncio.timeout(3):
            # A metadata round trip proves the broker answers, not just that a socket is open.
            await producer.client.fetch_all_metadata()

    return check


async def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    async def one(name: str, check: Check) -> str:
        try:
            await check()
            return "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            log.warning("health check failed", extra={"check": name, "error": repr(exc)[:500]})
            return f"unavailable ({type(exc).__name__})"

    names = list(checks)
    results = await asyncio.gather(*(one(n, checks[n]) for n in names))
    status = dict(zip(names, results, strict=True))
    for name, result in status.items():
        metrics.HEALTH_CHECKS.labels(name).set(result == "ok")
    return all(v == "ok" for v in results), status


Degraded = Callable[[], dict[str, str]]


def health_routes(
    checks: dict[str, Check], degraded: Degraded = dict, advisory: dict[str, Check] | None = None
) -> list[Route]:
    """`advisory`: checks whose failure leaves the process working (degraded, not unhealthy)."""
    advisory = advisory or {}

    async def healthz(request: Request) -> Response:
        _, status = await run_checks({**checks, **advisory})
        if any(status[name] != "ok" for name in checks):
            return JSONResponse({"status": "unhealthy", "checks": status}, 503)
        # Degraded still answers 200: the process works and restarting it would not help
        # (a remote service is down); the body and the metrics say what is wrong.
        reasons = {name: status[name] for name in advisory if status[name] != "ok"}
        if reasons := reasons | degraded():
            return JSONResponse({"status": "degraded", "checks": status, "degraded": reasons})
        return JSONResponse({"status": "ok", "checks": status})

    async def live(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return [
        Route("/healthz", healthz),
        Route("/readyz", healthz),
        Route("/livez", live),
    ]


def metrics_route() -> Route:
    """Prometheus's /metrics: for the health port only."""

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics)


class HttpServer:
    """uvicorn inside the running event loop, started and stopped with the service."""

    def __init__(
        self,
        app,
        host: str,
        port: int,
        *,
        lifespan: str = "off",
        forwarded_allow_ips: str | None = None,
    ) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                lifespan=lifespan,
                # Whose X-Forwarded-Proto/For to believe: behind an ingress, the console's
                # cookie is Secure only if the proxy's "https" is trusted.
                forwarded_allow_ips=forwarded_allow_ips,
            )
        )
        self.server.install_signal_handlers = lambda: None  # faststream owns SIGTERM
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # surfaces a bind error
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task


def health_app(
    checks: dict[str, Check],
    extra_routes: Sequence[Route] = (),
    degraded: Degraded = dict,
    advisory: dict[str, Check] | None = None,
) -> Starlette:
    return Starlette(
        routes=[*health_routes(checks, degraded, advisory), metrics_route(), *extra_routes]
    )
