"""Bulk changes: show what would change, then ask, unless `--yes`.

Every command that acts on many things at once takes `--dry-run` (show the plan, change
nothing) and `--yes` (do it without asking). Without `--yes` it asks on the terminal; when
nobody can answer (stdin is not a terminal: a script, a pipe, CI) it refuses with one line
and exit code 2, so a script never changes more than its author saw.
"""

# No `from __future__ import annotations`: typer reads the option aliases' annotations.

import sys
from typing import Annotated

import typer

from services.cli.errors import ExitCode, fail
from services.cli.output import say

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Only show what would change; change nothing.")
]


def can_ask() -> bool:
    return sys.stdin.isatty()


def confirm(action: str, *, yes: bool) -> None:
    """Go on if `yes` or the operator agrees to `action` ("re-queue 3 notification(s)");
    otherwise end the command having changed nothing."""
    if yes:
        return
    if not can_ask():
        raise fail(
            f"porgate: not going to {action} without confirmation: stdin is not a terminal;"
            " add --yes to do it, or --dry-run to only look",
            ExitCode.USAGE,
        )
    if not typer.confirm(f"{action[:1].upper()}{action[1:]}?", default=False, err=True):
        say("nothing changed")
        raise typer.Exit(ExitCode.FAILED)
