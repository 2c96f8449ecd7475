"""What `dlq` and `replay` share: a progress bar on stderr, a rate limit, a dry run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import datetime
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
from rich.text import Text

from services.cli.errors import fail
from services.ops.topic_io import ProgressFn, ReplayError, parse_time

err = Console(stderr=True)

Rate = Annotated[
    float | None, typer.Option("--rate", min=0.001, help="At most this many messages per second.")
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
def progress_bar(description: str) -> Iterator[ProgressFn]:
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


def run_replay(coro):
    try:
        return asyncio.run(coro)
    except ReplayError as exc:
        raise fail(f"porgate: {exc}") from None


def option_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
