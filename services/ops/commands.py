"""`porgate dlq ...` and `porgate replay ...`: on-call replays with progress and a rate limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from services.common.config import get_settings
from services.ops import dead_letters, replay, revalidate
from services.ops.topic_io import ProgressFn, ReplayError, parse_time

dlq_app = typer.Typer(
    help="Dead letters (por.dlq.v1): list, inspect, redrive to their source topic.",
    no_args_is_help=True,
)
replay_app = typer.Typer(
    help="Replays: re-publish topic slices, re-validate blocked transactions.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

MAX_SHOWN_BYTES = 2000

Rate = Annotated[
    float | None, typer.Option("--rate", min=0.001, help="At most this many messages per second.")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be published; publish nothing.")
]


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} msg/s" if speed else "- msg/s", style="progress.data.speed")


class _RemainingColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(
            f"{task.remaining:,.0f} left" if task.remaining is not None else "",
            style="progress.remaining",
        )


@contextlib.contextmanager
def _progress(description: str) -> Iterator[ProgressFn]:
    """A progress bar that appears with the first report: a dry run or an early error shows none."""
    # On stderr, so `--json` output on stdout stays parseable.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        _RemainingColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    task: TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            progress.start()
            task = progress.add_task(description, total=total)
        progress.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if task is not None:
            progress.stop()


def _run(coro):
    try:
        return asyncio.run(coro)
    except ReplayError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _show_value(value: bytes | None) -> None:
    if value is None:
        console.print("(no value)")
        return
    try:
        console.print_json(data=json.loads(value))
    except ValueError:  # not UTF-8 or not JSON
        shown = repr(value[:MAX_SHOWN_BYTES])
        more = (
            f" ... ({len(value) - MAX_SHOWN_BYTES} more bytes)"
            if len(value) > MAX_SHOWN_BYTES
            else ""
        )
        console.print(Text(shown + more))


# ----------------------------------------------------------------------------- dlq


@dlq_app.command("list")
def dlq_list(
    source_topic: Annotated[
        str | None, typer.Option(help="Only dead letters from this topic (contract name).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="Only the newest N.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """List dead letters: where they came from, why they failed, how long ago."""
    s = get_settings()
    with _progress("reading DLQ") as progress:
        letters = _run(
            dead_letters.list_dead_letters(
                s,
                source_topic=source_topic,
                limit=limit,
                on_progress=progress,
            )
        )
    now = datetime.now(UTC)
    if as_json:
        typer.echo(json.dumps([d.summary(now) for d in letters], indent=2))
        return
    if not letters:
        console.print("no dead letters")
        return
    table = Table(title=f"dead letters ({len(letters)})")
    for column in (
        "dlq p/offset",
        "source topic",
        "src p/offset",
        "consumer group",
        "reason",
        "age",
        "key",
    ):
        table.add_column(column, overflow="fold")
    for d in letters:
        table.add_row(
            f"{d.partition}/{d.offset}",
            d.source_topic or "?",
            f"{d.source_partition}/{d.source_offset}",
            d.consumer_group or "",
            d.error or "",
            dead_letters.format_age(d.failed_at, now),
            d.key_text,
        )
    console.print(table)


@dlq_app.command("inspect")
def dlq_inspect(
    offset: Annotated[int, typer.Argument(help="Offset in the DLQ.")],
    partition: Annotated[int, typer.Option(help="DLQ partition.")] = 0,
) -> None:
    """Show one dead letter: its headers and its value."""
    s = get_settings()
    letter = _run(dead_letters.dead_letter_at(s, offset, partition))
    if letter is None:
        err.print(f"[red]no dead letter at partition {partition} offset {offset}[/red]")
        raise typer.Exit(1)
    table = Table(title=f"dead letter {partition}/{offset}", show_header=False)
    table.add_column("header", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("key", repr(letter.key) if letter.key is not None else "(none)")
    table.add_row("timestamp", datetime.fromtimestamp(letter.timestamp_ms / 1000, UTC).isoformat())
    for k, v in letter.headers:
        table.add_row(k, v.decode("utf-8", "replace") if v is not None else "")
    console.print(table)
    _show_value(letter.value)


@dlq_app.command("redrive")
def dlq_redrive(
    all_: Annotated[
        bool,
        typer.Option("--all", help="Every dead letter (with --source-topic: every one from it)."),
    ] = False,
    offsets: Annotated[
        list[int] | None, typer.Option("--offset", help="This DLQ offset; repeat for more.")
    ] = None,
    partition: Annotated[int, typer.Option(help="DLQ partition of the --offset values.")] = 0,
    source_topic: Annotated[
        str | None, typer.Option(help="Only dead letters from this topic (contract name).")
    ] = None,
    dry_run: DryRun = False,
    rate: Rate = None,
) -> None:
    """Publish dead letters again, unchanged, to their source topic; the consumers' inbox makes repeats harmless."""
    if all_ == bool(offsets):
        raise typer.BadParameter(
            "give either --all or one or more --offset", param_hint="--all/--offset"
        )
    s = get_settings()
    with _progress("redriving") as progress:
        result = _run(
            dead_letters.redrive(
                s,
                offsets=None if all_ else offsets,
                partition=partition,
                source_topic=source_topic,
                dry_run=dry_run,
                rate=rate,
                on_progress=progress,
            )
        )
    for offset in result.missing:
        err.print(f"[yellow]no dead letter at partition {partition} offset {offset}[/yellow]")
    for letter, why in result.skipped:
        err.print(f"[yellow]skipped {letter.partition}/{letter.offset}: {why}[/yellow]")
    if dry_run:
        table = Table(title=f"would redrive {len(result.selected)} dead letter(s)")
        for column in ("dlq p/offset", "to topic", "key", "reason it failed"):
            table.add_column(column, overflow="fold")
        for d in result.selected:
            to_topic = s.topic_prefix + (d.source_topic or "")
            table.add_row(f"{d.partition}/{d.offset}", to_topic, d.key_text, d.error or "")
        console.print(table)
        return
    console.print(f"{result.sent} dead letter(s) redriven, {len(result.skipped)} skipped")


# ----------------------------------------------------------------------------- replay


@replay_app.command("topic")
def replay_topic(
    source: Annotated[
        str, typer.Argument(help="Topic to read (contract name, e.g. csp.orders.v1).")
    ],
    to: Annotated[
        str | None, typer.Option("--to", help="Topic to publish to (default: SOURCE).")
    ] = None,
    partition: Annotated[
        list[int] | None, typer.Option("--partition", help="Only this partition; repeatable.")
    ] = None,
    from_offset: Annotated[
        int | None, typer.Option(min=0, help="First offset (inclusive).")
    ] = None,
    to_offset: Annotated[int | None, typer.Option(min=0, help="Last offset (inclusive).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Records timestamped at or after this ISO time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Records timestamped before this ISO time.")
    ] = None,
    dry_run: DryRun = False,
    rate: Rate = None,
) -> None:
    """Re-publish a slice of a topic, keys and headers kept; consumers skip events they already processed.

    Reads up to each partition's end as of the start, so replaying into the same topic ends.
    """
    s = get_settings()
    start, end = _time(since, "--since"), _time(until, "--until")
    with _progress(f"replaying {source}") as progress:
        result = _run(
            replay.replay_topic(
                s,
                source,
                target=to,
                partitions=partition,
                from_offset=from_offset,
                to_offset=to_offset,
                since=start,
                until=end,
                dry_run=dry_run,
                rate=rate,
                on_progress=progress,
            )
        )
    table = Table(title=f"{source} -> {result.target}" + (" (dry run)" if dry_run else ""))
    for column in ("partition", "offsets read", "records " + ("to copy" if dry_run else "copied")):
        table.add_column(column)
    for sl in result.slices:
        span = f"{sl.start}..{sl.stop - 1}" if sl.size else "-"
        table.add_row(str(sl.partition), span, str(result.per_partition.get(sl.partition, 0)))
    console.print(table)
    verb = "would copy" if dry_run else "copied"
    console.print(f"{result.scanned} record(s) read, {verb} {result.copied}")


@replay_app.command("revalidate")
def replay_revalidate(
    distributor: Annotated[
        str | None, typer.Option(help="Only this distributor's transactions.")
    ] = None,
    code: Annotated[
        int | None, typer.Option(help="Only decisions blocked with this error code.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only decisions made at or after this ISO time.")
    ] = None,
    decision_id: Annotated[
        list[str] | None, typer.Option("--decision-id", help="Only this decision; repeatable.")
    ] = None,
    dry_run: DryRun = False,
    rate: Rate = None,
) -> None:
    """Validate blocked transactions again (e.g. after a reseller fixed its tenant).

    Each request names the decision it supersedes, so billing can tell; running this twice
    sends the same request ids again, which por-validator ignores.
    """
    s = get_settings()
    start = _time(since, "--since")
    with _progress("re-validating") as progress:
        result = _run(
            revalidate.revalidate(
                s,
                distributor=distributor,
                code=code,
                since=start,
                decision_ids=decision_id,
                dry_run=dry_run,
                rate=rate,
                on_progress=progress,
            )
        )
    found = {r.decision_id for r in result.planned}
    for wanted in decision_id or ():
        if wanted not in found:
            err.print(
                f"[yellow]{wanted}: not a latest blocked decision (unknown, accepted or superseded)[/yellow]"
            )
    if dry_run:
        table = Table(title=f"would re-validate {len(result.planned)} transaction(s)")
        for column in (
            "blocked decision",
            "transaction",
            "distributor",
            "codes",
            "blocked at",
            "request id",
        ):
            table.add_column(column, overflow="fold")
        for r in result.planned:
            table.add_row(
                r.decision_id,
                r.key,
                r.distributor_id,
                ",".join(map(str, r.error_codes)),
                r.decided_at.isoformat(timespec="seconds"),
                r.event_id,
            )
        console.print(table)
        return
    console.print(f"{result.sent} re-validation request(s) published")
