"""Test helpers that talk to the real broker: publish envelopes, read topics until a condition."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from services.catalog import build_services
from services.common.app import build_app
from services.common.kafka_clients import new_consumer, new_producer, start_client
from services.settings import Settings


def envelope(
    event_type: str, data: dict[str, Any], *, id: str | None = None, time_: str | None = None
) -> dict:
    return {
        "specversion": "1.0",
        "id": id or str(uuid.uuid4()),
        "source": "/tests",
        "type": event_type,
        "time": time_ or datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


class Bus:
    """Publishes to and reads from one test's prefixed topics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Upstream commerce's stand-in: a plain producer (acks=all) over porgate's TLS and SASL.
        self.producer = new_producer(settings, idempotent=False, client_id="porgate-tests")

    async def __aenter__(self) -> Self:
        await start_client(self.producer, self.settings)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    async def send(
        self,
        topic: str,
        value: dict | bytes,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        await self.producer.send_and_wait(
            self.settings.topic_prefix + topic,
            raw,
            key=key.encode() if key is not None else None,
            headers=[(k, v.encode()) for k, v in headers.items()] if headers else None,
        )

    async def read(
        self,
        topic: str,
        until: Callable[[list], bool],
        timeout: float = 30.0,
        settle: float = 0.0,
    ) -> list:
        return await read_topic(self.settings, topic, until, timeout, settle)

    async def events(
        self, topic: str, count: int, timeout: float = 30.0, settle: float = 0.0
    ) -> list[dict]:
        records = await self.read(topic, lambda rs: len(rs) >= count, timeout, settle)
        return [json.loads(r.value) for r in records]


async def read_topic(
    settings: Settings,
    topic: str,
    until: Callable[[list], bool],
    timeout: float = 30.0,
    settle: float = 0.0,
) -> list:
    """Every record of a topic from the start, once `until(records)` holds (then `settle` more seconds)."""
    consumer = new_consumer(
        settings,
        settings.topic_prefix + topic,
        client_id="porgate-tests",
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # Room for the megabyte messages of the bad-input tests.
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await start_client(consumer, settings)
    records: list = []
    try:
        deadline = time.monotonic() + timeout
        while True:
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(recs)
            if until(records):
                end = time.monotonic() + settle
                while time.monotonic() < end:
                    for recs in (await consumer.getmany(timeout_ms=100)).values():
                        records.extend(recs)
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topic}: {len(records)} record(s)")
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def running(settings: Settings, names: Sequence[str]):
    """Run these services in this event loop, as `porgate run` would."""
    app, runtimes = build_app(build_services(list(names), settings), settings)
    try:
        await app.start()
        yield runtimes
    finally:
        await app.stop()


async def eventually(
    check: Callable[[], Any],
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
    describe: Callable[[], Any] | None = None,
) -> Any:
    """Await `check()` until it returns something truthy; fail after `timeout` seconds, saying
    `what` was not met and, if given, `describe()` of the state."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            extra = f"; {describe()}" if describe else ""
            raise AssertionError(f"{what} not met within {timeout}s (last: {result!r}){extra}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def api_client(settings: Settings, keys: str, asyncapi_json: str = "{}"):
    """The POR validation API on a free port with these keys (`key=distributor,...`), and an
    httpx client for it."""
    from pydantic import SecretStr

    from services.api.app import create_app
    from services.common.health import HttpServer
    from services.common.ports import free_port

    port = free_port()
    app = create_app(settings.model_copy(update={"api_keys": SecretStr(keys)}), asyncapi_json)
    server = HttpServer(app, "127.0.0.1", port, lifespan="on")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        await server.stop()
