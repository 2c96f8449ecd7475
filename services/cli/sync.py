"""`porgate sync partner-center`: one sync now, from the command line.

Progress, outcomes and the summary go to stderr, one unwrapped line each (scripts grep
them); a dry run writes the upserts it would publish to stdout, one JSON object a line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

import typer

from contracts.codec import encode
from services.cli.errors import ExitCode, command_group, fail
from services.cli.output import say
from services.common.db import create_pool
from services.common.kafka_clients import start_producer
from services.common.outbox import Outbox
from services.common.retry import Retrier
from services.partner_center.client import PartnerCenterClient
from services.partner_center.credentials import (
    CredentialsError,
    DistributorCredentials,
    load_credentials,
)
from services.partner_center_sync import changes, store
from services.partner_center_sync.syncer import SERVICE, Outcome, Syncer, distributors_to_sync
from services.settings import Settings, get_settings

app = command_group("Bring porgate's registry in line with Partner Center.")

# How long the CLI waits for the broker to take what an earlier run left in the outbox.
PENDING_TIMEOUT_S = 60.0


class Abort(Exception):
    """The sync cannot start at all; the message says why, the code what kind of trouble."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


@app.command("partner-center")
def partner_center(
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
            help="Publish the end of most (or all) of a distributor's active partnerships, which"
            " a sync refuses by default; needs --distributor.",
        ),
    ] = False,
) -> None:
    """List each distributor's indirect resellers in Partner Center (every distributor with
    credentials) and publish what changed since the last sync to csp.partner-registry.v1:
    partnerships active or removed, reseller tenants and PLA accounts."""
    if allow_mass_removal and distributor is None:
        # A confirmation is for the one list an operator has looked at, never for them all.
        say("cannot sync: --allow-mass-removal needs --distributor ID (the one list it confirms)")
        raise typer.Exit(2)
    settings = get_settings()
    try:
        credentials = load_credentials(settings.partner_center_credentials_file)
        if not credentials and distributor is None:
            raise Abort(
                "no distributor has Partner Center credentials "
                "(PORGATE_PARTNER_CENTER_CREDENTIALS_FILE is unset or empty)",
                ExitCode.CONFIG,
            )
        outcomes = asyncio.run(
            _sync(settings, credentials, distributor, dry_run, allow_mass_removal)
        )
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
    if failed and all(o.unavailable for o in failed):
        say(
            "porgate: cannot reach Partner Center for "
            + "; ".join(f"{o.distributor_id} ({o.error})" for o in failed)
        )
        raise typer.Exit(ExitCode.REMOTE)
    if failed:
        say("sync failed for " + "; ".join(f"{o.distributor_id} ({o.error})" for o in failed))
        raise typer.Exit(ExitCode.FAILED)


async def _sync(
    settings: Settings,
    credentials: Mapping[str, DistributorCredentials],
    only: str | None,
    dry_run: bool,
    allow_mass_removal: bool = False,
) -> list[Outcome]:
    ready, outcomes = distributors_to_sync(credentials, only)
    for outcome in outcomes:
        say(f"{outcome.distributor_id}: failed: {outcome.error}")
    if not ready:
        return outcomes
    # Unreachable PostgreSQL or Kafka: the command group's guard says so, with its exit code.
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=2)
    client = PartnerCenterClient(settings, credentials)
    box: Outbox | None = None
    try:
        if not dry_run:
            box = await open_outbox(settings, pool)
        syncer = Syncer(
            client,
            pool,
            box,
            transact=lambda _operation, record: record(),
            confirmed_mass_removal=only if allow_mass_removal else None,
        )
        for distributor_id in ready:
            say(f"{distributor_id}: listing indirect resellers in Partner Center")
            outcome = await syncer.sync(distributor_id)
            _report(outcome, dry_run)
            outcomes.append(outcome)
    finally:
        await client.aclose()
        if box is not None:
            await box.drain()
            await box.producer.stop()
        await pool.close()
    return outcomes


async def open_outbox(settings: Settings, pool) -> Outbox:
    """The outbox, once the broker has taken whatever an earlier, interrupted run left in it."""
    # A broker that cannot be reached as configured: one line and exit 3 (services/cli/errors.py).
    producer = await start_producer(settings, client_id=f"porgate-{settings.instance_id}-sync")
    box = Outbox(
        SERVICE,
        pool,
        producer,
        Retrier(SERVICE, settings.retry_initial_s, settings.retry_max_s),
        settings.topic_prefix,
    )
    try:
        async with asyncio.timeout(PENDING_TIMEOUT_S):
            sent = await box.publish_pending()
    except TimeoutError:
        await producer.stop()
        raise Abort(
            "the broker did not take the earlier run's upserts in time", ExitCode.KAFKA
        ) from None
    except BaseException:
        await producer.stop()
        raise
    if sent:
        say(f"{sent} upsert(s) an earlier run had recorded but not published: sent")
    return box


def _report(outcome: Outcome, dry_run: bool) -> None:
    who = outcome.distributor_id
    if outcome.plan is None:
        say(f"{who}: failed: {outcome.error}")
        return
    plan = outcome.plan
    for reason in plan.skipped:
        say(f"{who}: skipped {reason}")
    say(
        f"{who}: {plan.listed} reseller(s) listed in {outcome.pages} page(s):"
        f" {plan.count('added')} added, {plan.count('changed')} changed,"
        f" {plan.count('removed')} removed;"
        f" {plan.upserts} upsert(s) {'would be published' if dry_run else 'published'}"
    )
    if dry_run:
        print_messages(changes.outgoing(plan, datetime.now(UTC)))


def print_messages(messages) -> None:
    """A dry run's upserts on stdout, a JSON line each: what would have been published."""
    for message in messages:
        line = {
            "topic": message.topic.name,
            "key": message.key,
            "event": json.loads(encode(message.event)),
        }
        sys.stdout.write(json.dumps(line) + "\n")


def _mount_gdap() -> None:
    from services.cli.sync_gdap import gdap

    app.command("gdap")(gdap)


_mount_gdap()
