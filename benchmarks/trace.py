"""Wall-clock accounting inside a services process, for the traced phase only.

py-spy shows where the CPU goes; an asyncio service also spends time *waiting*, and a
sampling profiler sees that only as the event loop's select(). This module adds up, per
consumer: batches, records, and the milliseconds of
- each stage of each batch, timed by the runtime itself through build_app's `stage_timer`;
- each handler call, through the `Consumer`s handed to build_app;
- each SQL statement, by wrapping asyncpg's query methods, in the benchmark's own services
  process and nowhere else.
SQL is attributed to the consumer whose stage is running: every stage sets a contextvar,
which the handler, its statements and the batch's background publish task all see.

Enabled by PORGATE_BENCH_TRACE=PATH in benchmarks/services_proc.py; written to PATH at exit.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

StageTimer = Callable[[str, str, int], contextlib.AbstractContextManager[None]]

# The consumer ("service:consumer") whose batch stage is running in this task.
_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    "bench_consumer", default="(outside a batch)"
)

# The runtime's stages, as the report names them.
STAGES = {
    "batch": "batch (decode + transaction + wait for the batch before)",
    "decode": "decode",
    "transaction": "transaction (inbox + handler + outbox, committed)",
    "wait-previous": "wait-previous (the batch before: published and committed)",
    "publish": "publish (send + acks + DELETE outbox; overlaps the next batch)",
    "offset-commit": "offset-commit (Kafka offset commit)",
    "lag": "lag (lag metric)",
}
HANDLER = "handler (whole batch, its SQL included)"
QUERY_METHODS = (
    "execute",
    "executemany",
    "fetch",
    "fetchval",
    "fetchrow",
    "copy_records_to_table",
)


class Totals:
    def __init__(self) -> None:
        self.steps: dict[str, dict[str, list[float]]] = defaultdict(
            lambda: defaultdict(lambda: [0, 0.0])
        )
        self.sql: dict[str, dict[str, list[float]]] = defaultdict(
            lambda: defaultdict(lambda: [0, 0.0])
        )
        self.batch_sizes: dict[str, list[int]] = defaultdict(list)

    def add(self, table: dict, consumer: str, name: str, seconds: float, n: int = 1) -> None:
        cell = table[consumer][name]
        cell[0] += n
        cell[1] += seconds

    @contextlib.contextmanager
    def stage(self, consumer: str, stage: str, records: int) -> Iterator[None]:
        """The `stage_timer` of build_app: a batch's size counts once, on its "batch" stage."""
        token = _current.set(consumer)
        if stage == "batch":
            self.batch_sizes[consumer].append(records)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(self.steps, consumer, STAGES.get(stage, stage), time.perf_counter() - started)
            _current.reset(token)

    def report(self) -> dict[str, Any]:
        out = {}
        for consumer in sorted(set(self.steps) | set(self.sql)):
            sizes = self.batch_sizes.get(consumer, [])
            records = sum(sizes)
            nb = len(sizes)
            steps = {
                k: {
                    "calls": int(c),
                    "ms_total": round(s * 1000, 1),
                    "ms_per_batch": round(s * 1000 / nb, 2) if nb else None,
                    "us_per_record": round(s * 1e6 / records, 1) if records else None,
                }
                for k, (c, s) in sorted(self.steps[consumer].items(), key=lambda kv: -kv[1][1])
            }
            sql = {
                k: {
                    "calls": int(c),
                    "ms_total": round(s * 1000, 1),
                    "calls_per_batch": round(c / nb, 2) if nb else None,
                    "ms_per_call": round(s * 1000 / c, 2) if c else None,
                    "us_per_record": round(s * 1e6 / records, 1) if records else None,
                }
                for k, (c, s) in sorted(self.sql[consumer].items(), key=lambda kv: -kv[1][1])
            }
            out[consumer] = {
                "batches": len(sizes),
                "records": records,
                "mean_batch": round(records / len(sizes), 1) if sizes else None,
                "steps": steps,
                "sql": sql,
            }
        return out


TOTALS = Totals()


def timed_query(method: str, original: Callable, totals: Totals = TOTALS) -> Callable:
    """An asyncpg Connection query method that adds its wall time to the running consumer."""

    @functools.wraps(original)
    async def wrapper(self, query, *args, **kwargs):
        started = time.perf_counter()
        try:
            return await original(self, query, *args, **kwargs)
        finally:
            label = " ".join(str(query).split())[:70]
            totals.add(
                totals.sql, _current.get(), f"{method}: {label}", time.perf_counter() - started
            )

    return wrapper


def install() -> StageTimer:
    """Time every SQL statement of this process; returns the stage timer for build_app."""
    import asyncpg.connection

    for method in QUERY_METHODS:
        original = getattr(asyncpg.connection.Connection, method)
        setattr(asyncpg.connection.Connection, method, timed_query(method, original))
    return TOTALS.stage


def timed_handler(handle: Callable, totals: Totals = TOTALS) -> Callable:
    @functools.wraps(handle)
    async def timed(events, uow):
        started = time.perf_counter()
        try:
            return await handle(events, uow)
        finally:
            totals.add(totals.steps, _current.get(), HANDLER, time.perf_counter() - started)

    return timed


def wrap_services(services: list, totals: Totals = TOTALS) -> list:
    """The same services, each consumer's handler timed (the batch's work, its SQL included)."""
    return [
        dataclasses.replace(
            service,
            consumers=tuple(
                dataclasses.replace(c, handle=timed_handler(c.handle, totals))
                for c in service.consumers
            ),
        )
        for service in services
    ]


def dump(path: str) -> None:
    with open(path, "w") as f:
        json.dump(TOTALS.report(), f, indent=2)
