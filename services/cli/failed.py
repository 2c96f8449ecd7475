"""`porgate <service> failed|retry`: list and re-queue the work a service gave up on.

Webhook deliveries (notifier) and GDAP terminations (gdap-revoker) both end in a `failed`
state after their last attempt, and wait there for an operator; each service's
command group wires its own store and wording into these two commands.
"""

# No `from __future__ import annotations`: typer reads the commands' annotations at run
# time, and they name this function's arguments, which only a closure can see.

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import asyncpg
import typer

from services.cli.confirm import DryRun, Yes, confirm
from services.cli.errors import fail
from services.cli.output import Column, Tabular, TabularFormat, emit
from services.common.db import create_pool
from services.settings import get_settings

# `retry` re-queues what it showed, so it lists every failed item, not a page of them.
EVERY = 1_000_000


async def with_pool(schema: str, fn: Callable[[asyncpg.Pool], Awaitable[Any]]) -> Any:
    pool = await create_pool(get_settings().database_url, schema, max_size=1)
    try:
        return await fn(pool)
    finally:
        await pool.close()


async def each(
    pool: asyncpg.Pool, ids: Sequence[str], change: Callable[[Any, str], Awaitable[int]]
) -> int:
    """`change` applied to each of `ids` in one transaction: exactly what the operator saw,
    nothing that failed since."""
    async with pool.acquire() as conn, conn.transaction():
        return sum([await change(conn, item_id) for item_id in ids])


def add_failed_commands(
    app: typer.Typer,
    *,
    schema: str,
    list_failed: Callable[[asyncpg.Pool, int], Awaitable[Sequence[Any]]],
    retry_failed: Callable[[Any, str | None], Awaitable[int]],
    columns: Sequence[Column],
    id_key: str,
    noun: str,
    title: str,
    id_option: str,
    order: str,
    failed_help: str,
    retry_help: str,
) -> None:
    """Add `failed` and `retry` to `app`.

    `columns` are what `failed` lists of each record; `id_key` is the column's key that
    identifies an item; `noun` names one item ("notification"),
    `title` the table, `id_option` the flag that picks one item for `retry`, and `order` how
    `list_failed` sorts what it returns.
    """

    def listed(rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [{c.key: c.of(row) for c in columns} for row in rows]

    @app.command(help=failed_help)
    def failed(
        limit: Annotated[int, typer.Option(help=f"Show at most this many, {order}.")] = 100,
        fmt: TabularFormat = Tabular.text,
    ) -> None:
        rows = asyncio.run(with_pool(schema, lambda pool: list_failed(pool, limit)))
        emit(listed(rows), columns, fmt, title=f"{title} ({len(rows)})", empty=f"no failed {noun}s")

    @app.command(help=retry_help)
    def retry(
        item_id: Annotated[
            str | None,
            typer.Option(id_option, help="Re-queue only this one (default: every failed one)."),
        ] = None,
        dry_run: DryRun = False,
        yes: Yes = False,
        fmt: TabularFormat = Tabular.text,
    ) -> None:
        if item_id is not None and not dry_run:  # one named item: nothing to confirm
            count = asyncio.run(with_pool(schema, lambda pool: retry_failed(pool, item_id)))
            if count == 0:
                raise fail(f"no failed {noun} {item_id}")
            typer.echo(f"{count} {noun}(s) re-queued")
            return
        rows = asyncio.run(with_pool(schema, lambda pool: list_failed(pool, EVERY)))
        plan = [r for r in listed(rows) if item_id is None or r[id_key] == item_id]
        if not plan:
            emit([], columns, fmt, title=title, empty=f"no failed {noun}s")
            return
        if dry_run or not yes:
            emit(plan, columns, fmt, title=f"would re-queue {len(plan)} {noun}(s)", empty="")
        if dry_run:
            return
        confirm(f"re-queue {len(plan)} {noun}(s)", yes=yes)
        ids = [r[id_key] for r in plan]
        count = asyncio.run(with_pool(schema, lambda pool: each(pool, ids, retry_failed)))
        typer.echo(f"{count} {noun}(s) re-queued")
