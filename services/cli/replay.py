"""`porgate replay ...`: re-publish topic slices, re-validate blocked transactions."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.cli.progress import DryRun, Rate, err, option_time, progress_bar, run_replay
from services.common.config import get_settings
from services.ops import replay, revalidate

app = typer.Typer(
    help="Replays: re-publish topic slices, re-validate blocked transactions.", no_args_is_help=True
)
console = Console()


@app.command("topic")
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
    start, end = option_time(since, "--since"), option_time(until, "--until")
    with progress_bar(f"replaying {source}") as progress:
        result = run_replay(
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


@app.command("revalidate")
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
    start = option_time(since, "--since")
    with progress_bar("re-validating") as progress:
        result = run_replay(
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
