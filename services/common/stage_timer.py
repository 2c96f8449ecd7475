"""The stage timer a consumer's batches report to: how long each stage of each batch took
(benchmarks/trace.py adds them up; in production nothing times them)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

# Called around each stage of each batch: (consumer as "service:consumer", stage, records).
# Stages: "batch" holds "decode", "prefetch" (consumers with one), "transaction" and
# "wait-previous"; "publish" runs after it, in a task created inside "batch";
# "offset-commit" (with the lag gauge) commits the offsets of every batch published since
# the last commit.
StageTimer = Callable[[str, str, int], AbstractContextManager[None]]


def untimed(consumer: str, stage: str, records: int) -> AbstractContextManager[None]:
    return contextlib.nullcontext()
