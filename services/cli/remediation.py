"""`porgate remediation` (what to do about a PLA id, as a message to forward) and
`porgate recheck` (ask the authority again now, and release what passes)."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

import typer

from services.cli.output import Message
from services.common.db import create_pool
from services.common.kafka_clients import start_producer
from services.domain.regions import RegionTable
from services.domain.remediation import Remediation
from services.partner_center.client import PartnerCenterClient
from services.partner_center.errors import PartnerCenterError
from services.por_validator import store
from services.por_validator.recheck import Recheck, Rechecker
from services.por_validator.remediation import PartnerCenterAuthority, remediation_for
from services.rendering.remediation import to_html, to_json, to_text
from services.settings import Settings, get_settings


@contextlib.asynccontextmanager
async def _partner_center(settings: Settings) -> AsyncIterator[PartnerCenterClient | None]:
    """Partner Center's client when it is the authority, closed afterwards."""
    if settings.por_authority != "partner-center":
        yield None
        return
    client = PartnerCenterClient.from_settings(settings)
    try:
        yield client
    finally:
        await client.aclose()


async def remediation_now(settings: Settings, partner_id: str, distributor: str, lang: str):
    regions = RegionTable.load(settings.region_overrides_file)
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=2)
    try:
        async with _partner_center(settings) as client:
            authority = (
                None
                if client is None
                else PartnerCenterAuthority.of(client, settings.partner_center_cache_ttl_s)
            )
            return await remediation_for(pool, partner_id, distributor, regions, lang, authority)
    finally:
        await pool.close()


async def recheck_now(settings: Settings, partner_id: str, distributor: str) -> Recheck:
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=2)
    producer = await start_producer(settings)
    try:
        async with _partner_center(settings) as client:
            rechecker = Rechecker(
                pool=pool,
                producer=producer,
                regions=RegionTable.load(settings.region_overrides_file),
                enforcement_start=settings.enforcement_start,
                window=timedelta(seconds=settings.release_window),
                topic_prefix=settings.topic_prefix,
                client=client,
                cache_ttl_s=settings.partner_center_cache_ttl_s,
            )
            return await rechecker.recheck(partner_id, distributor)
    finally:
        await producer.stop()
        await pool.close()


def rendered(found: Remediation, fmt: Message) -> str:
    if fmt is Message.json:
        return json.dumps(to_json(found), ensure_ascii=False, indent=2) + "\n"
    return to_html(found) if fmt is Message.html else to_text(found)


def remediation(
    partner_id: Annotated[str, typer.Argument(metavar="PLA_ID", help="The PLA ID.")],
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    lang: Annotated[str, typer.Option("--lang", help="en or ja.")] = "en",
    fmt: Annotated[Message, typer.Option("--format", help="text, json or html.")] = Message.text,
) -> None:
    """What the reseller (or you) must do so that PLA_ID passes for the distributor, and the
    organisation's PLA ids that pass now: a message to forward as it is."""
    found = asyncio.run(remediation_now(get_settings(), partner_id, distributor, lang))
    sys.stdout.write(rendered(found, fmt))


def recheck(
    partner_id: Annotated[str, typer.Argument(metavar="PLA_ID", help="The PLA ID.")],
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
) -> None:
    """Ask the authority about PLA_ID again now (no cache), record the answer, and release the
    distributor's blocked transactions that depend on it and pass now. Prints what changed."""
    try:
        result = asyncio.run(recheck_now(get_settings(), partner_id, distributor))
    except PartnerCenterError as exc:
        typer.echo(f"Partner Center gave no answer: {exc}", err=True)
        raise typer.Exit(1) from None
    print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    if result.unpublished:
        typer.echo(
            f"{result.unpublished} release(s) recorded but not yet published: por-validator"
            " publishes them at its next start",
            err=True,
        )


def mount(app: typer.Typer) -> None:
    app.command("remediation")(remediation)
    app.command("recheck")(recheck)
