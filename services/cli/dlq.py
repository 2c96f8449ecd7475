"""`porgate dlq ...`: list, inspect and redrive dead letters (por.dlq.v1)."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.cli.progress import DryRun, Rate, err, progress_bar, run_replay
from services.common.config import get_settings
from services.ops import dead_letters

app = typer.Typer(
    help="Dead letters (por.dlq.v1): list, inspect, redrive to their source topic.",
    no_args_is_help=True,
)
console = Console()

MAX_SHOWN_BYTES = 2000


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


@app.command("list")
def dlq_list(
    source_topic: Annotated[
        str | None, typer.Option(help="Only dead letters from this topic (contract name).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="Only the newest N.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """List dead letters: where they came from, why they failed, how long ago."""
    s = get_settings()
    with progress_bar("reading DLQ") as progress:
        letters = run_replay(
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


@app.command("inspect")
def dlq_inspect(
    offset: Annotated[int, typer.Argument(help="Offset in the DLQ.")],
    partition: Annotated[int, typer.Option(help="DLQ partition.")] = 0,
) -> None:
    """Show one dead letter: its headers and its value."""
    s = get_settings()
    letter = run_replay(dead_letters.dead_letter_at(s, offset, partition))
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


@app.command("redrive")
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
    with progress_bar("redriving") as progress:
        result = run_replay(
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
