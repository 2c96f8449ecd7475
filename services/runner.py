"""Run services (and the API) in one process until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from services.common.health import HttpServer
from services.settings import Settings


async def run_services(
    settings: Settings, names: list[str], *, with_api: bool, until: asyncio.Event | None = None
) -> None:
    """Start consumers, workers and the API; stop them in order on a signal or `until`."""
    from services.api.app import create_app
    from services.asyncapi import asyncapi_document
    from services.catalog import build_services
    from services.common.app import build_app
    from services.common.health import health_app
    from services.common.kafka_clients import reach

    # Before anything starts: a wrong password or CA stops the process with the one line
    # of `KafkaSetupError` (services/cli/), not with the API's lifespan traceback.
    await reach(settings)

    stop = until or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    app = None
    if names:
        app, _ = build_app(build_services(names, settings), settings, serve_health=True)
    api, health = None, None
    if with_api:
        api_app = create_app(settings, asyncapi_document(settings))
        api = HttpServer(
            api_app,
            settings.api_host,
            settings.api_port,
            lifespan="on",
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
        if app is None and settings.health_port:
            # `run api` alone: /metrics (never on the API's port) and the API's checks on
            # the health port, as every service process has them.
            health = HttpServer(
                health_app(api_app.state.health_checks), settings.health_host, settings.health_port
            )
    try:
        if app is not None:
            await app.start()
        if api is not None:
            await api.start()
        if health is not None:
            await health.start()
        await stop.wait()
    finally:
        if health is not None:
            await health.stop()
        if api is not None:
            await api.stop()
        if app is not None:
            await app.stop()
