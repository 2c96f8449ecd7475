"""`porgate dlq ...`: list, inspect and redrive dead letters (por.dlq.v1)."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import base64
from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from services.cli.confirm import DryRun, Yes, confirm
from services.cli.errors import command_group, fail
from services.cli.output import (
    Column,
    Document,
    DocumentFormat,
    JsonFlag,
    Tabular,
    TabularFormat,
    emit,
    say,
    stdout_console,
    with_json_flag,
    write_json,
)
from services.cli.progress import Rate, progress_bar, run_replay
from services.ops import dead_letters
from services.settings import get_settings

app = command_group("Dead letters (por.dlq.v1): list, inspect, redrive to their source topic.")

MAX_SHOWN_BYTES = 2000

LETTER_COLUMNS = [
    Column("dlq partition", "partition"),
    Column("dlq offset", "offset"),
    Column("source topic", "sourceTopic"),
    Column("src partition", "sourcePartition"),
    Column("src offset", "sourceOffset"),
    Column("consumer group", "consumerGroup"),
    Column("reason", "error"),
    Column("failed at", "failedAt", text=False),
    Column("age", "age"),
    Column("key", "key"),
]
REDRIVE_COLUMNS = [
    Column("dlq partition", "partition"),
    Column("dlq offset", "offset"),
    Column("to topic", "toTopic"),
    Column("key", "key"),
    Column("reason it failed", "error"),
]


def _show_value(value: bytes | None) -> None:
    console = stdout_console()
    if value is None:
        console.print("(no value)")
        return
    try:
        console.print_json(data=dead_letters.parse_json(value))
    except ValueError:  # not UTF-8 or not JSON
        shown = repr(value[:MAX_SHOWN_BYTES])
        more = (
            f" ... ({len(value) - MAX_SHOWN_BYTES} more bytes)"
            if len(value) > MAX_SHOWN_BYTES
            else ""
        )
        console.print(Text(shown + more))


def _value_document(value: bytes | None) -> dict[str, Any]:
    """The value as JSON when it is JSON, else as text, else as base64: nothing is lost."""
    if value is None:
        return {"value": None}
    try:
        return {"value": dead_letters.parse_json(value)}
    except ValueError:
        pass
    try:
        return {"valueText": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"valueBase64": base64.b64encode(value).decode()}


@app.command("list")
def dlq_list(
    source_topic: Annotated[
        str | None, typer.Option(help="Only dead letters from this topic (contract name).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="Only the newest N.")] = None,
    fmt: TabularFormat = Tabular.text,
    as_json: JsonFlag = False,
) -> None:
    """List dead letters: where they came from, why they failed, how long ago."""
    fmt = with_json_flag(fmt, as_json)
    with progress_bar("reading DLQ") as progress:
        letters = run_replay(
            dead_letters.list_dead_letters(
                get_settings(), source_topic=source_topic, limit=limit, on_progress=progress
            )
        )
    now = datetime.now(UTC)
    rows = [d.summary(now) for d in letters]
    emit(rows, LETTER_COLUMNS, fmt, title=f"dead letters ({len(rows)})", empty="no dead letters")


@app.command("inspect")
def dlq_inspect(
    offset: Annotated[int, typer.Argument(help="Offset in the DLQ.")],
    partition: Annotated[int, typer.Option(help="DLQ partition.")] = 0,
    fmt: DocumentFormat = Document.text,
) -> None:
    """Show one dead letter: its headers and its value."""
    letter = run_replay(dead_letters.dead_letter_at(get_settings(), offset, partition))
    if letter is None:
        raise fail(f"no dead letter at partition {partition} offset {offset}")
    timestamp = datetime.fromtimestamp(letter.timestamp_ms / 1000, UTC).isoformat()
    headers = [
        (k, v.decode("utf-8", "replace") if v is not None else "") for k, v in letter.headers
    ]
    if fmt is Document.json:
        write_json(
            {
                "partition": partition,
                "offset": offset,
                "key": letter.key_text if letter.key is not None else None,
                "timestamp": timestamp,
                "headers": [{"name": k, "value": v} for k, v in headers],
                **_value_document(letter.value),
            }
        )
        return
    table = Table(title=f"dead letter {partition}/{offset}", show_header=False)
    table.add_column("header", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("key", repr(letter.key) if letter.key is not None else "(none)")
    table.add_row("timestamp", timestamp)
    for k, v in headers:
        table.add_row(Text(k), Text(v))
    stdout_console().print(table)
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
    yes: Yes = False,
    rate: Rate = None,
    fmt: TabularFormat = Tabular.text,
) -> None:
    """Publish dead letters again, unchanged, to their source topic; the consumers' inbox makes
    repeats harmless. With --all, asks first (or --yes); named --offset values do not ask."""
    if all_ == bool(offsets):
        raise typer.BadParameter(
            "give either --all or one or more --offset", param_hint="--all/--offset"
        )
    s = get_settings()
    # Read first, publish nothing: the plan to show, and exactly the letters to publish.
    plan = run_replay(
        dead_letters.redrive(
            s,
            offsets=None if all_ else offsets,
            partition=partition,
            source_topic=source_topic,
            dry_run=True,
        )
    )
    for offset in plan.missing:
        say(f"no dead letter at partition {partition} offset {offset}")
    for letter, why in plan.skipped:
        say(f"skipped {letter.partition}/{letter.offset}: {why}")
    rows = [
        {
            "partition": d.partition,
            "offset": d.offset,
            "toTopic": s.topic_prefix + (d.source_topic or ""),
            "key": d.key_text if d.key is not None else None,
            "error": d.error,
        }
        for d in plan.selected
    ]
    title = f"would redrive {len(rows)} dead letter(s)"
    if dry_run or (all_ and not yes):
        emit(rows, REDRIVE_COLUMNS, fmt, title=title, empty="no dead letters to redrive")
    if dry_run or not rows:
        return
    if all_:
        confirm(f"redrive {len(rows)} dead letter(s)", yes=yes)
    by_partition: dict[int, list[int]] = defaultdict(list)
    for d in plan.selected:
        by_partition[d.partition].append(d.offset)
    sent = 0
    with progress_bar("redriving") as progress:
        for p, chosen in sorted(by_partition.items()):
            done = run_replay(
                dead_letters.redrive(
                    s,
                    offsets=chosen,
                    partition=p,
                    source_topic=source_topic,
                    rate=rate,
                    on_progress=progress,
                )
            )
            sent += done.sent
    typer.echo(f"{sent} dead letter(s) redriven, {len(plan.skipped)} skipped")
