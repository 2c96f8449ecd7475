"""`porgate notifications ...`: inspect and re-queue notifications the webhook refused."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.common.config import get_settings
from services.common.db import create_pool
from services.notifier import store

app = typer.Typer(help="Distributor notifications (webhook deliveries).", no_args_is_help=True)
console = Console()


async def _with_pool(fn):
    pool = await create_pool(get_settings().database_url, "notifier", max_size=1)
    try:
        return await fn(pool)
    finally:
        await pool.close()


@app.command()
def failed(
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.")] = 100,
) -> None:
    """List notifications whose delivery failed for good."""
    rows = asyncio.run(_with_pool(lambda pool: store.failed(pool, limit)))
    if not rows:
        console.print("no failed notifications")
        return
    table = Table(title=f"failed notifications ({len(rows)})")
    for column in ("notification id", "kind", "distributor", "attempts", "created", "last error"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["notification_id"],
            r["kind"],
            r["distributor_id"],
            str(r["attempts"]),
            r["created_at"].isoformat(timespec="seconds"),
            r["last_error"] or "",
        )
    console.print(table)


@app.command()
def retry(
    notification_id: Annotated[
        str | None,
        typer.Option(
            "--notification-id", help="Re-queue only this one (default: every failed one)."
        ),
    ] = None,
) -> None:
    """Put failed notifications back in the delivery queue with a fresh attempt budget."""
    count = asyncio.run(_with_pool(lambda pool: store.retry_failed(pool, notification_id)))
    if notification_id is not None and count == 0:
        console.print(f"no failed notification {notification_id}")
        raise typer.Exit(1)
    console.print(f"{count} notification(s) re-queued")
