"""`porgate notifications ...`: inspect and re-queue notifications the webhook refused; show
and re-enable webhook endpoints that answered 410 Gone."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.common.commands import add_failed_commands
from services.common.config import get_settings
from services.common.db import create_pool
from services.notifier import store

app = typer.Typer(help="Distributor notifications (webhook deliveries).", no_args_is_help=True)
console = Console()

add_failed_commands(
    app,
    schema=store.SCHEMA,
    list_failed=store.failed,
    retry_failed=store.retry_failed,
    columns=[
        ("notification id", "notification_id"),
        ("kind", "kind"),
        ("distributor", "distributor_id"),
        ("attempts", "attempts"),
        ("created", "created_at"),
        ("last error", "last_error"),
    ],
    noun="notification",
    title="failed notifications",
    id_option="--notification-id",
    order="newest first",
    failed_help="List notifications whose delivery failed for good.",
    retry_help="Put failed notifications back in the delivery queue with a fresh attempt budget.",
)


async def _with_pool(fn: Callable[[asyncpg.Pool], Awaitable[Any]]) -> Any:
    pool = await create_pool(get_settings().database_url, store.SCHEMA, max_size=1)
    try:
        return await fn(pool)
    finally:
        await pool.close()


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


@app.command()
def endpoints() -> None:
    """Every webhook endpoint a notifier delivered to or tried: enabled, paused (429, 502,
    504) or disabled (410 Gone), with its deliveries."""

    async def read(pool: asyncpg.Pool) -> tuple[list[asyncpg.Record], int]:
        return await store.endpoints(pool), await store.pending_count(pool)

    rows, pending = asyncio.run(_with_pool(read))
    configured = get_settings().notify_webhook_url
    table = Table(title=f"webhook endpoints ({pending} notification(s) pending)")
    for header in (
        "url",
        "state",
        "delivered",
        "last delivered",
        "last attempt",
        "since",
        "reason",
        "paused until",
        "re-enabled",
    ):
        table.add_column(header)
    now = datetime.now().astimezone()
    listed = set()
    for r in rows:
        listed.add(r["url"])
        state = "disabled" if r["disabled_at"] is not None else "enabled"
        if state == "enabled" and r["paused_until"] is not None and r["paused_until"] > now:
            state = "paused"
        last_attempt = f"{_when(r['last_attempt_at'])} {r['last_result'] or ''}".strip()
        table.add_row(
            r["url"] + (" (configured)" if r["url"] == configured else ""),
            state,
            str(r["delivered"]),
            _when(r["last_delivered_at"]),
            last_attempt,
            _when(r["disabled_at"]),
            r["disabled_reason"] or "",
            _when(r["paused_until"]),
            _when(r["enabled_at"]),
        )
    if configured and configured not in listed:
        table.add_row(configured + " (configured)", "enabled", "0", "", "", "", "", "", "")
    console.print(table)


@app.command()
def enable(
    url: Annotated[
        str | None,
        typer.Option(help="Re-enable only this endpoint (default: every disabled one)."),
    ] = None,
) -> None:
    """Re-enable webhook endpoints that answered 410 Gone; their pending notifications go out."""
    count = asyncio.run(_with_pool(lambda pool: store.enable_endpoints(pool, url)))
    if url is not None and count == 0:
        console.print(f"{url} is not disabled")
        raise typer.Exit(1)
    console.print(f"{count} endpoint(s) re-enabled")
