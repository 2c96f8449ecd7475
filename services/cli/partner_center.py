"""`porgate partner-center webhooks register|show|test`: a distributor's Partner Center webhook
registration (services/partner_center/webhook_registration.py), pointed at porgate's receiver.

Outcomes go to stderr, one line each; `show` prints the registration as JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
import typer

from services.cli.errors import command_group
from services.cli.output import say
from services.common.db import create_pool
from services.partner_center import webhook_registration as wr
from services.partner_center.client import PartnerCenterClient
from services.partner_center.credentials import CredentialsError, load_credentials
from services.partner_center.errors import PartnerCenterError
from services.partner_center_sync import event_store, store
from services.settings import get_settings

app = command_group("Partner Center: porgate's side of its APIs.")
webhooks = command_group("Partner Center's webhook registration for a distributor.")
app.add_typer(webhooks, name="webhooks")

Distributor = Annotated[str, typer.Option("--distributor", help="Distributor id.")]
# Partner Center sends at most 2 test events a minute; the command refuses a third itself,
# across every operator's machine (the requests are recorded in the database).
TESTS_PER_MINUTE = 2


def _run(distributor: str, go: Callable[[PartnerCenterClient], Awaitable[Any]]) -> Any:
    settings = get_settings()
    try:
        credentials = load_credentials(settings.partner_center_credentials_file)
    except CredentialsError as exc:
        say(f"cannot read the credentials: {exc}")
        raise typer.Exit(1) from None
    if distributor not in credentials:
        say(f"no credentials for {distributor} in PORGATE_PARTNER_CENTER_CREDENTIALS_FILE")
        raise typer.Exit(1)

    async def main() -> Any:
        client = PartnerCenterClient(settings, credentials)
        try:
            return await go(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(main())
    except PartnerCenterError as exc:
        say(f"Partner Center: {exc}")
        raise typer.Exit(1) from None
    except (OSError, asyncpg.PostgresError) as exc:
        say(f"database: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


@webhooks.command("register")
def register(
    distributor: Distributor,
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="porgate's receiver, e.g. https://porgate.example/v1/partner-center/events",
        ),
    ],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", help="An event to receive (repeat); default: those porgate acts on."
        ),
    ] = None,
) -> None:
    """Register (or update) the distributor's webhook: Partner Center POSTs its events to
    porgate's receiver, the URL naming the distributor."""
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        say("the receiver URL must be https (http only for a local stand-in)")
        raise typer.Exit(1)
    target = wr.receiver_url(url, distributor)
    events = list(event or wr.DEFAULT_EVENTS)
    done = _run(distributor, lambda c: wr.register(c, distributor, target, events))
    say(f"{distributor}: registered {done.webhook_url} for {', '.join(done.webhook_events)}")


@webhooks.command("show")
def show(distributor: Distributor) -> None:
    """Print the distributor's registration and the events Partner Center offers."""

    async def go(client: PartnerCenterClient) -> dict[str, Any]:
        held = await wr.registration(client, distributor)
        return {
            "registration": held.model_dump(by_alias=True) if held else None,
            "availableEvents": await wr.available_events(client, distributor),
        }

    shown = _run(distributor, go)
    sys.stdout.write(json.dumps(shown, indent=2) + "\n")
    if shown["registration"] is None:
        say(f"{distributor}: no webhook registration")


@webhooks.command("test")
def test(distributor: Distributor) -> None:
    """Ask Partner Center to send a test-created event to the registered URL (2 a minute)."""
    settings = get_settings()

    async def go(client: PartnerCenterClient) -> str | None:
        pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await store.lock_distributor(conn, distributor, "webhook-test")
                if await event_store.test_requests_since(conn, distributor, 60) >= TESTS_PER_MINUTE:
                    return None
                correlation_id = await wr.send_test_event(client, distributor)
                await event_store.record_test_request(conn, distributor, correlation_id)
                return correlation_id
        finally:
            await pool.close()

    correlation_id = _run(distributor, go)
    if correlation_id is None:
        say(f"{distributor}: {TESTS_PER_MINUTE} test events were asked for in the last minute;"
            " Partner Center allows no more: try again in a minute")  # fmt: skip
        raise typer.Exit(1)
    say(f"{distributor}: test event requested, correlation id {correlation_id}")
