"""`porgate replay ...`: re-publish topic slices, re-validate blocked transactions.

Both act on many records at once: without --yes they read first, show what they would
publish, and ask; what they then publish is what was shown.
"""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

from typing import Annotated

import typer

from services.cli.confirm import DryRun, Yes, confirm
from services.cli.errors import command_group
from services.cli.output import Column, Tabular, TabularFormat, emit, say
from services.cli.progress import Rate, option_time, progress_bar, run_replay
from services.ops import replay, revalidate
from services.settings import get_settings

app = command_group("Replays: re-publish topic slices, re-validate blocked transactions.")

SLICE_COLUMNS = [
    Column("partition", "partition"),
    Column("first offset", "firstOffset"),
    Column("last offset", "lastOffset"),
    Column("records", "records"),
]
REVALIDATION_COLUMNS = [
    Column("blocked decision", "decisionId"),
    Column("transaction", "transactionKey"),
    Column("distributor", "distributorId"),
    Column("codes", "errorCodes"),
    Column("blocked at", "decidedAt"),
    Column("request id", "requestId"),
]


def _slices(result: replay.ReplayResult) -> list[dict]:
    return [
        {
            "partition": sl.partition,
            "firstOffset": sl.start if sl.size else None,
            "lastOffset": sl.stop - 1 if sl.size else None,
            "records": result.per_partition.get(sl.partition, 0),
        }
        for sl in result.slices
    ]


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
    yes: Yes = False,
    rate: Rate = None,
    fmt: TabularFormat = Tabular.text,
) -> None:
    """Re-publish a slice of a topic, keys and headers kept; consumers skip events they already processed.

    Reads up to each partition's end as of the start, so replaying into the same topic ends.
    """
    s = get_settings()
    start, end = option_time(since, "--since"), option_time(until, "--until")

    def run(dry: bool, description: str, ends=None) -> replay.ReplayResult:
        with progress_bar(description) as progress:
            return run_replay(
                replay.replay_topic(
                    s, source, target=to, partitions=partition, from_offset=from_offset,
                    to_offset=to_offset, since=start, until=end, dry_run=dry, rate=rate,
                    on_progress=progress, ends=ends,
                )
            )  # fmt: skip

    plan = None
    if dry_run or not yes:
        plan = run(True, f"reading {source}")
        emit(
            _slices(plan),
            SLICE_COLUMNS,
            fmt,
            title=f"{source} -> {plan.target}: would copy {plan.copied} record(s)",
            empty=f"{source} has nothing in the slice asked for",
        )
        if dry_run or not plan.copied:
            say(f"{plan.scanned} record(s) read, would copy {plan.copied}")
            return
        confirm(f"copy {plan.copied} record(s) from {source} to {plan.target}", yes=yes)
    ends = {sl.partition: sl.stop for sl in plan.slices} if plan else None
    result = run(False, f"replaying {source}", ends)
    if plan is None:
        emit(_slices(result), SLICE_COLUMNS, fmt, title=f"{source} -> {result.target}", empty="")
    typer.echo(f"{result.scanned} record(s) read, copied {result.copied}")


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
    yes: Yes = False,
    rate: Rate = None,
    fmt: TabularFormat = Tabular.text,
) -> None:
    """Validate blocked transactions again (e.g. after a reseller fixed its tenant).

    Each request names the decision it supersedes, so billing can tell; running this twice
    sends the same request ids again, which por-validator ignores. Asks first unless --yes,
    or unless only named --decision-id values were given.
    """
    s = get_settings()
    start = option_time(since, "--since")
    filters = {"distributor": distributor, "code": code, "since": start}
    plan = run_replay(
        revalidate.revalidate(s, **filters, decision_ids=decision_id, dry_run=True)
    ).planned
    found = {r.decision_id for r in plan}
    for wanted in decision_id or ():
        if wanted not in found:
            say(f"{wanted}: not a latest blocked decision (unknown, accepted or superseded)")
    named_only = bool(decision_id) and not any(v is not None for v in filters.values())
    if dry_run or not (yes or named_only):
        rows = [
            {
                "decisionId": r.decision_id,
                "transactionKey": r.key,
                "distributorId": r.distributor_id,
                "errorCodes": list(r.error_codes),
                "decidedAt": r.decided_at,
                "requestId": r.event_id,
            }
            for r in plan
        ]
        title = f"would re-validate {len(plan)} transaction(s)"
        emit(rows, REVALIDATION_COLUMNS, fmt, title=title, empty="no blocked decisions match")
    if dry_run or not plan:
        return
    if not named_only:
        confirm(f"re-validate {len(plan)} transaction(s)", yes=yes)
    with progress_bar("re-validating") as progress:
        result = run_replay(
            revalidate.revalidate(
                s,
                **filters,
                decision_ids=[r.decision_id for r in plan],
                rate=rate,
                on_progress=progress,
            )
        )
    typer.echo(f"{result.sent} re-validation request(s) published")
