"""`porgate <service> failed|retry`: list and re-queue the work a service gave up on.

Webhook deliveries (notifier) and GDAP terminations (gdap-revoker) both end in a `failed`
state after their last attempt, and wait there for an operator; each service's
command group wires its own store and wording into these two commands.
"""

# No `from __future__ import annotations`: typer reads the commands' annotations at run
# time, and they name this function's arguments, which only a closure can see.

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.common.config import get_settings
from services.common.db import create_pool

console = Console()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def add_failed_commands(
    app: typer.Typer,
    *,
    schema: str,
    list_failed: Callable[[asyncpg.Pool, int], Awaitable[Sequence[Any]]],
    retry_failed: Callable[[asyncpg.Pool, str | None], Awaitable[int]],
    columns: Sequence[tuple[str, str]],
    noun: str,
    title: str,
    id_option: str,
    order: str,
    failed_help: str,
    retry_help: str,
) -> None:
    """Add `failed` and `retry` to `app`.

    `columns` are (header, row field) pairs of the table `failed` prints; `noun` names one
    item ("notification"), `title` the table, `id_option` the flag that picks one item for
    `retry`, and `order` how `list_failed` sorts what it returns.
    """

    async def with_pool(fn: Callable[[asyncpg.Pool], Awaitable[Any]]) -> Any:
        pool = await create_pool(get_settings().database_url, schema, max_size=1)
        try:
            return await fn(pool)
        finally:
            await pool.close()

    @app.command(help=failed_help)
    def failed(
        limit: Annotated[int, typer.Option(help=f"Show at most this many, {order}.")] = 100,
    ) -> None:
        rows = asyncio.run(with_pool(lambda pool: list_failed(pool, limit)))
        if not rows:
            console.print(f"no failed {noun}s")
            return
        table = Table(title=f"{title} ({len(rows)})")
        for header, _ in columns:
            table.add_column(header)
        for row in rows:
            table.add_row(*(_cell(row[field]) for _, field in columns))
        console.print(table)

    @app.command(help=retry_help)
    def retry(
        item_id: Annotated[
            str | None,
            typer.Option(id_option, help="Re-queue only this one (default: every failed one)."),
        ] = None,
    ) -> None:
        count = asyncio.run(with_pool(lambda pool: retry_failed(pool, item_id)))
        if item_id is not None and count == 0:
            console.print(f"no failed {noun} {item_id}")
            raise typer.Exit(1)
        console.print(f"{count} {noun}(s) re-queued")
