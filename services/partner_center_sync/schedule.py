"""The scheduled service's timetable: fixed slots, `every` seconds apart, without jitter.

Pure. A slot missed (every replica down, or a run longer than the period) is not made up
for: the next run is the first slot still ahead, so runs never pile up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Slot:
    """What the shared schedule says now: run (and the next slot to record), or wait."""

    run: bool
    next_due: datetime
    wait_s: float


def next_slot(due: datetime, every_s: float, now: datetime) -> datetime:
    """The first slot of due, due + every, due + 2 every, ... strictly after `now`."""
    if due > now:
        return due
    periods = math.floor((now - due).total_seconds() / every_s) + 1
    return due + timedelta(seconds=periods * every_s)


def decide(
    next_due: datetime | None, last_started: datetime | None, every_s: float, now: datetime
) -> Slot:
    """Whether a run is due, from the schedule's row (None: never ran, so run now).

    A period shortened since the row was written counts from the last start, so the new
    setting applies at once instead of after the old, longer wait.
    """
    if next_due is None:
        return Slot(True, next_slot(now, every_s, now), 0.0)
    due = next_due
    if last_started is not None:
        due = min(due, last_started + timedelta(seconds=every_s))
    if due > now:
        return Slot(False, due, (due - now).total_seconds())
    return Slot(True, next_slot(due, every_s, now), 0.0)
