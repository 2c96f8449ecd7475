"""`porgate gdap ...`: inspect and re-queue GDAP terminations that failed for good."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.common.config import get_settings
from services.common.db import create_pool
from services.gdap_revoker import store

app = typer.Typer(help="GDAP terminations (gdap-revoker).", no_args_is_help=True)
console = Console()


async def _with_pool(fn):
    pool = await create_pool(get_settings().database_url, "gdap_revoker", max_size=1)
    try:
        return await fn(pool)
    finally:
        await pool.close()


@app.command()
def failed(
    limit: Annotated[int, typer.Option(help="Show at most this many, oldest first.")] = 100,
) -> None:
    """List terminations that failed for good: the reseller may still hold these privileges."""
    rows = asyncio.run(_with_pool(lambda pool: store.failed_terminations(pool, limit)))
    if not rows:
        console.print("no failed terminations")
        return
    table = Table(title=f"failed GDAP terminations ({len(rows)})")
    for column in (
        "relationship id",
        "reseller tenant",
        "customer",
        "reason",
        "attempts",
        "requested",
        "last error",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["relationship_id"],
            r["reseller_tenant_id"],
            r["customer_id"],
            r["reason"],
            str(r["attempts"]),
            r["requested_at"].isoformat(timespec="seconds"),
            r["last_error"] or "",
        )
    console.print(table)


@app.command()
def retry(
    relationship_id: Annotated[
        str | None,
        typer.Option(
            "--relationship-id", help="Re-queue only this one (default: every failed one)."
        ),
    ] = None,
) -> None:
    """Put failed terminations back to pending with a fresh attempt budget."""
    count = asyncio.run(_with_pool(lambda pool: store.retry_failed(pool, relationship_id)))
    if relationship_id is not None and count == 0:
        console.print(f"no failed termination {relationship_id}")
        raise typer.Exit(1)
    console.print(f"{count} termination(s) re-queued")
