"""`porgate sync gdap`: one GDAP sync now, from the command line (commands.py's conventions:
progress and outcomes on stderr, one line each; a dry run's upserts on stdout as JSON lines)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

import typer

from services.cli.errors import ExitCode, fail
from services.cli.output import say
from services.cli.sync import Abort, open_outbox, print_messages
from services.common.db import create_pool
from services.graph.client import GraphClient
from services.partner_center.client import PartnerCenterClient
from services.partner_center.credentials import (
    CredentialsError,
    DistributorCredentials,
    load_credentials,
)
from services.partner_center_sync import gdap_changes, store
from services.partner_center_sync.gdap_syncer import (
    GdapOutcome,
    GdapSyncer,
    partner_center_lookup,
)
from services.settings import Settings, get_settings


def gdap(
    distributor: Annotated[
        str | None, typer.Option("--distributor", help="Sync this distributor only.")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the upserts that would be published; write nothing."),
    ] = False,
    allow_mass_removal: Annotated[
        bool,
        typer.Option(
            "--allow-mass-removal",
            help="Publish most (or all) relationships seen as absent, which a sync refuses by default.",
        ),
    ] = False,
) -> None:
    """List each distributor's GDAP relationships in Microsoft Graph (every distributor in the
    credentials file) and publish to csp.partner-registry.v1 those it created for indirect
    resellers that changed since the last sync."""
    settings = get_settings()
    try:
        credentials = load_credentials(settings.partner_center_credentials_file)
        wanted = [distributor] if distributor is not None else sorted(credentials)
        if not wanted:
            raise Abort(
                "no distributor has credentials (PORGATE_PARTNER_CENTER_CREDENTIALS_FILE)",
                ExitCode.CONFIG,
            )
        unknown = [d for d in wanted if d not in credentials]
        if unknown:
            raise Abort(
                f"no credentials for {', '.join(unknown)} in the credentials file", ExitCode.CONFIG
            )
        outcomes = asyncio.run(_sync(settings, credentials, wanted, dry_run, allow_mass_removal))
    except (CredentialsError, Abort) as exc:
        raise fail(f"cannot sync: {exc}", getattr(exc, "code", ExitCode.CONFIG)) from None
    failed = [o for o in outcomes if o.error is not None]
    done = [o.plan for o in outcomes if o.plan is not None]
    total = {k: sum(p.count(k) for p in done) for k in ("added", "changed", "removed")}
    say(
        f"{len(done)} distributor(s) synced{' (dry run: nothing written)' if dry_run else ''}:"
        f" {total['added']} added, {total['changed']} changed, {total['removed']} removed"
        f"{f'; {len(failed)} failed' if failed else ''}"
    )
    if failed:
        say("sync failed for " + "; ".join(f"{o.distributor_id} ({o.error})" for o in failed))
        raise typer.Exit(1)


async def _sync(
    settings: Settings,
    credentials: Mapping[str, DistributorCredentials],
    wanted: list[str],
    dry_run: bool,
    allow_mass_removal: bool,
) -> list[GdapOutcome]:
    # Unreachable PostgreSQL or Kafka: the command group's guard says so, with its exit code.
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=2)
    graph = GraphClient.from_settings(settings, credentials)
    client = PartnerCenterClient(settings, credentials)
    box = None
    outcomes = []
    try:
        if not dry_run:
            box = await open_outbox(settings, pool)
        syncer = GdapSyncer(
            graph,
            credentials,
            partner_center_lookup(client, credentials),
            pool,
            box,
            allow_mass_removal=allow_mass_removal,
        )
        for distributor_id in wanted:
            say(f"{distributor_id}: listing GDAP relationships in Microsoft Graph")
            outcome = await syncer.sync(distributor_id)
            _report(outcome, dry_run)
            outcomes.append(outcome)
    finally:
        await graph.aclose()
        await client.aclose()
        if box is not None:
            await box.drain()
            await box.producer.stop()
        await pool.close()
    return outcomes


def _report(outcome: GdapOutcome, dry_run: bool) -> None:
    who = outcome.distributor_id
    if outcome.plan is None:
        say(f"{who}: failed: {outcome.error}")
        return
    plan = outcome.plan
    for reason in plan.skipped:
        say(f"{who}: not published: {reason}")
    say(
        f"{who}: {plan.listed} relationship(s) created for resellers listed ({plan.own} of its"
        f" own not published): {plan.count('added')} added, {plan.count('changed')} changed,"
        f" {plan.count('removed')} removed;"
        f" {len(plan.changes)} upsert(s) {'would be published' if dry_run else 'published'}"
    )
    if dry_run:
        print_messages(gdap_changes.outgoing(plan, datetime.now(UTC)))
