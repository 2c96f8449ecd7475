"""What the reliability tests share: services as real processes, a webhook receiver, a fake
Microsoft Graph, Kafka and database helpers, and the figures printed at the end of the run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl

import asyncpg
import httpx
import standardwebhooks
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.kafka_security import client_options
from services.common.ports import free_port
from services.notifier.signing import HEADER, WEBHOOK_ID, verify
from services.settings import Settings
from tests import support
from tests.support import read_topic  # noqa: F401 - re-exported for the reliability tests

REPO = Path(__file__).resolve().parents[2]

# ----------------------------------------------------------------------------- figures

FIGURES: Counter[str] = Counter()
NOTES: list[str] = []


def tally(**counts: int) -> None:
    """Add to the run's figures (events pushed, faults injected, bad inputs tried, lost...)."""
    FIGURES.update({k: v for k, v in counts.items() if v})
    for k in counts:
        FIGURES.setdefault(k, 0)


def note(text: str) -> None:
    NOTES.append(text)


# The inbound surfaces and the figure each one's hostile corpus adds to (tally(**{key: n})).
HOSTILE_SURFACES = {
    "API": "hostile corpus: API",
    "console": "hostile corpus: console",
    "CSV": "hostile corpus: CSV import (files)",
    "Kafka": "hostile corpus: Kafka",
    "Partner Center webhooks": "hostile corpus: Partner Center webhooks",
}


def hostile_inputs_line(figures: Counter[str]) -> str | None:
    """One line for the run's figures, once the figures of every worker are in: how many
    hostile inputs each surface's corpus tried (none: the corpus did not run)."""
    if not any(key in figures for key in HOSTILE_SURFACES.values()):
        return None
    parts = []
    for surface, key in HOSTILE_SURFACES.items():
        count = str(figures[key]) if key in figures else "not run"
        if surface == "CSV" and key in figures:
            rows = figures["hostile corpus: CSV import (hostile rows)"]
            count = f"{figures[key]} files ({rows} hostile rows in one)"
        parts.append(f"{surface} {count}")
    return "hostile inputs per surface: " + ", ".join(parts)


def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float, interval: float = 0.2, **kw: Any
):
    # The tests' own, polling less often: these runs have many processes on two cores.
    return support.eventually(check, timeout, interval, **kw)


# ----------------------------------------------------------------------------- processes


def service_env(
    settings: Settings, *, instance: str, health_port: int = 0, **extra: Any
) -> dict[str, str]:
    """`porgate run` configured from the environment only, as in production."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORGATE_")}
    env.update(
        {
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PORGATE_DATABASE_URL": settings.database_url,
            "PORGATE_TOPIC_PREFIX": settings.topic_prefix,
            "PORGATE_ENFORCEMENT_START": settings.enforcement_start.isoformat(),
            "PORGATE_HEALTH_PORT": str(health_port),
            "PORGATE_INSTANCE_ID": instance,
            "PORGATE_RETRY_INITIAL_S": "0.05",
            "PORGATE_RETRY_MAX_S": "0.5",
            # Webhook and Graph retries (the names of services/common/config.py); where they do
            # not exist the consumer's retry settings above apply.
            "PORGATE_DELIVERY_RETRY_INITIAL_S": "0.05",
            "PORGATE_DELIVERY_RETRY_MAX_S": "0.5",
            "PORGATE_CONSUMER_SESSION_TIMEOUT_MS": str(settings.consumer_session_timeout_ms),
            "PORGATE_CONSUMER_HEARTBEAT_INTERVAL_MS": str(settings.consumer_heartbeat_interval_ms),
            "PORGATE_LOG_JSON": "true",  # the extras (error, event id...) are in the JSON only
            "PORGATE_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"PORGATE_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class ServiceProcess:
    """`python -m services.cli run NAME` as a child process, its output in a log file."""

    def __init__(
        self, name: str, env: dict[str, str], log_dir: Path, label: str, health_port: int = 0
    ) -> None:
        self.name = name
        self.env = env
        self.label = label
        self.health_port = health_port
        self.log_path = log_dir / f"{label}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> ServiceProcess:
        assert self.proc is None or self.proc.poll() is not None, f"{self.label} is running"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed by the child's exit
        log.write(f"\n===== start #{self.starts + 1} at {time.time():.3f}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", self.name],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown, no offset commit, no leave-group."""
        assert self.proc is not None and self.alive, f"{self.label} is not running:\n{self.tail()}"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 40.0) -> int:
        """SIGTERM, as an orchestrator stops a replica; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                raise AssertionError(
                    f"{self.label} did not stop within {timeout}s of SIGTERM:\n{self.tail()}"
                )
        return self.proc.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])

    async def get(self, path: str, timeout: float = 5.0) -> httpx.Response:
        assert self.health_port, f"{self.label} serves no health endpoint"
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.get(f"http://127.0.0.1:{self.health_port}{path}")

    async def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus sample over the label values given (0 when the process is not up)."""
        try:
            text = (await self.get("/metrics")).text
        except httpx.HTTPError:
            return 0.0
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total


class Processes:
    """Every process a test started; the fixture kills what is left, by its own pid."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.all: list[ServiceProcess] = []

    def spawn(
        self, name: str, label: str | None = None, *, health: bool = False, **extra: Any
    ) -> ServiceProcess:
        label = label or name
        port = free_port() if health else 0
        env = service_env(
            self.settings, instance=f"{label}-{uuid.uuid4().hex[:6]}", health_port=port, **extra
        )
        p = ServiceProcess(name, env, self.log_dir, label, port)
        self.all.append(p)
        return p.start()

    def check_alive(self) -> None:
        dead = [
            p
            for p in self.all
            if p.proc is not None and p.proc.poll() is not None and p.proc.returncode != -9
        ]
        for p in dead:
            if p.proc.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
                raise AssertionError(f"{p.label} exited with {p.proc.returncode}:\n{p.tail()}")

    def cleanup(self) -> None:
        for p in self.all:
            if p.alive:
                with contextlib.suppress(Exception):
                    os.kill(p.proc.pid, signal.SIGKILL)
                    p.proc.wait(10)

    def report(self) -> str:
        return "\n".join(f"--- {p.label} (starts: {p.starts})\n{p.tail(25)}" for p in self.all)


# ----------------------------------------------------------------------------- kafka


class Kafka:
    """A producer for one test's prefixed topics that can send anything, even megabytes."""

    def __init__(self, settings: Settings, max_request_size: int = 8 * 1024 * 1024) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(
            **client_options(settings),
            acks="all",
            linger_ms=5,
            max_request_size=max_request_size,
            request_timeout_ms=20000,
        )
        self.sent = 0

    async def __aenter__(self) -> Self:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.producer.stop()

    def topic(self, name: str) -> str:
        return self.settings.topic_prefix + name

    async def send(
        self, topic: str, value: dict | bytes | None, key: str | bytes | None = None
    ) -> RecordMetadata:
        raw = value if isinstance(value, bytes | None) else json.dumps(value).encode()
        k = key.encode() if isinstance(key, str) else key
        md = await self.producer.send_and_wait(self.topic(topic), raw, key=k)
        self.sent += 1
        return md

    async def send_many(
        self, topic: str, items: Iterable[tuple[str | None, dict | bytes]], chunk: int = 500
    ) -> int:
        """Pipelined sends (acked in chunks): thousands of events a second."""
        n = 0
        futures = []
        for key, value in items:
            raw = value if isinstance(value, bytes) else json.dumps(value).encode()
            futures.append(
                await self.producer.send(self.topic(topic), raw, key=key.encode() if key else None)
            )
            n += 1
            if len(futures) >= chunk:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
        self.sent += n
        return n


class TopicTail:
    """Follows a topic in the background (from the start), for counting while a test runs."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            settings.topic_prefix + topic,
            **client_options(settings),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        self.records: list = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Self:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            for recs in (await self.consumer.getmany(timeout_ms=200)).values():
                self.records.extend(recs)

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.consumer.stop()

    def values(self) -> list[dict]:
        return [json.loads(r.value) for r in self.records]


def dlq_headers(record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (record.headers or ())}


# ----------------------------------------------------------------------------- database


async def fetch(settings: Settings, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def fetchval(settings: Settings, sql: str, *args) -> Any:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- HTTP fakes


class LocalServer:
    """A starlette app on a loopback port, inside the test's event loop."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
                limit_concurrency=1000,
                backlog=2048,
            )
        )
        self.server.install_signal_handlers = lambda: None
        self.task: asyncio.Task | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 5)


@dataclass
class Receipt:
    notification_id: str | None
    at: float
    signed: bool
    body: bytes
    answered: int | None = None


@dataclass
class Webhook:
    """A distributor's endpoint. mode: 'ok' answers 204, 'fail' 500, 'hang' 504 after `hang_s`.

    A request is signed if the `standardwebhooks` package verifies it (the convention
    receivers follow) and the deprecated X-Porgate-Signature verifies too.
    """

    secret: str
    mode: str = "ok"
    latency_s: float = 0.0
    hang_s: float = 5.0
    receipts: list[Receipt] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])

    async def endpoint(self, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # the sender died mid-request (kill -9): nothing was received
            return Response(status_code=400)
        receipt = Receipt(
            request.headers.get(WEBHOOK_ID),
            time.monotonic(),
            self.verifies(body, dict(request.headers)),
            body,
        )
        self.receipts.append(receipt)
        if not receipt.signed:
            receipt.answered = 401
            return Response(status_code=401)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.mode == "hang":
            # A receiver stuck behind its proxy: no answer in time, then a gateway timeout.
            await asyncio.sleep(self.hang_s)
            receipt.answered = 504
            return Response(status_code=504)
        if self.mode == "fail":
            receipt.answered = 500
            return Response("receiver down", status_code=500)
        receipt.answered = 204
        return Response(status_code=204)

    def verifies(self, body: bytes, headers: dict[str, str]) -> bool:
        headers = {k.lower(): v for k, v in headers.items()}  # HTTP header names: any case
        try:
            standardwebhooks.Webhook(self.secret).verify(body, headers)
        # The package raises ValueError, not its own error, on a malformed signature header.
        except (standardwebhooks.WebhookVerificationError, ValueError):
            return False
        return verify(self.secret.encode(), body, headers.get(HEADER.lower()))

    def by_id(self) -> dict[str, list[Receipt]]:
        out: dict[str, list[Receipt]] = defaultdict(list)
        for r in self.receipts:
            out[r.notification_id or ""].append(r)
        return out

    def accepted_ids(self) -> set[str]:
        return {r.notification_id for r in self.receipts if r.answered == 204}


@dataclass
class FakeGraph:
    """Microsoft Graph's token endpoint and the GDAP calls a termination makes (read the
    relationship, terminate, read the request back). mode: 'ok', 'fail' (500), 'hang'."""

    mode: str = "ok"
    hang_s: float = 5.0
    calls: list[tuple[str, float, str]] = field(
        default_factory=list
    )  # (relationship id, time, answer)

    def app(self) -> Starlette:
        base = "/v1.0/tenantRelationships/delegatedAdminRelationships/{rid}"
        return Starlette(
            routes=[
                Route("/tenant/oauth2/v2.0/token", self.token, methods=["POST"]),
                Route(base, self.relationship, methods=["GET"]),
                Route(base + "/requests", self.terminate, methods=["POST"]),
                Route(base + "/requests/{req}", self.request, methods=["GET"]),
            ]
        )

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("client_secret") != "graph-secret":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse({"token_type": "Bearer", "expires_in": 3599, "access_token": "tok"})

    async def _outage(self, rid: str) -> Response | None:
        """The answer of an outage (every call of a termination hits it first), or None."""
        if self.mode == "hang":
            self.calls.append((rid, time.monotonic(), "hang"))
            await asyncio.sleep(self.hang_s)
            return JSONResponse({}, status_code=503)
        if self.mode == "fail":
            self.calls.append((rid, time.monotonic(), "500"))
            return JSONResponse({"error": {"code": "InternalServerError"}}, status_code=500)
        return None

    async def relationship(self, request: Request) -> Response:
        rid = request.path_params["rid"]
        if (outage := await self._outage(rid)) is not None:
            return outage
        self.calls.append((rid, time.monotonic(), "200"))
        return JSONResponse(
            {
                "id": rid,
                "status": "active",
                "customer": {"tenantId": "cust"},
                "@odata.etag": 'W/"1"',
            }
        )

    async def terminate(self, request: Request) -> Response:
        rid = request.path_params["rid"]
        if (outage := await self._outage(rid)) is not None:
            return outage
        self.calls.append((rid, time.monotonic(), "201"))
        return JSONResponse(
            {"id": str(uuid.uuid4()), "action": "terminate", "status": "created"}, status_code=201
        )

    async def request(self, request: Request) -> Response:
        rid = request.path_params["rid"]
        if (outage := await self._outage(rid)) is not None:
            return outage
        self.calls.append((rid, time.monotonic(), "200"))
        return JSONResponse(
            {"id": request.path_params["req"], "action": "terminate", "status": "succeeded"}
        )

    def graph_env(self, base: str) -> dict[str, str]:
        return {
            "gdap_gateway": "graph",
            "graph_base_url": base,
            "graph_token_url": f"{base}/tenant/oauth2/v2.0/token",
            "graph_client_id": "graph-client",
            "graph_client_secret": "graph-secret",
            "graph_poll_initial_s": "0.2",
        }


def run_cli(
    settings: Settings, *args: str, timeout: float = 60.0, **extra: Any
) -> subprocess.CompletedProcess:
    """`python -m services.cli ...` as an operator runs it: a process of its own, configured by env."""
    env = service_env(settings, instance="cli", **extra)
    env["COLUMNS"] = "300"
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
