"""Run services (and the API) in one process until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from services.common.config import Settings
from services.common.health import HttpServer


async def run_services(
    settings: Settings, names: list[str], *, with_api: bool, until: asyncio.Event | None = None
) -> None:
    """Start consumers, workers and the API; stop them in order on a signal or `until`."""
    from services.api.app import create_app
    from services.asyncapi import asyncapi_document
    from services.catalog import build_services
    from services.common.app import build_app
    from services.common.kafka_clients import reach

    # Before anything starts: a wrong password or CA stops the process with the one line
    # of `KafkaSetupError` (services/cli.py), not with the API's lifespan traceback.
    await reach(settings)

    stop = until or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    app = None
    if names:
        app, _ = build_app(build_services(names, settings), settings, serve_health=True)
    api = (
        HttpServer(
            create_app(settings, asyncapi_document(settings)),
            settings.api_host,
            settings.api_port,
            lifespan="on",
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
        if with_api
        else None
    )
    try:
        if app is not None:
            await app.start()
        if api is not None:
            await api.start()
        await stop.wait()
    finally:
        if api is not None:
            await api.stop()
        if app is not None:
            await app.stop()
