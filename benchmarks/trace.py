"""Wall-clock accounting inside a services process, for the profile phase only.

py-spy shows where the CPU goes; an asyncio service also spends time *waiting*, and a
sampling profiler sees that only as the event loop's select(). This module wraps, in the
benchmark's own process and nowhere else, the runtime's batch steps, every service
handler, and asyncpg's query methods, and adds up per consumer: batches, records, and
the milliseconds each step took (round trips to PostgreSQL counted per SQL statement).

Enabled by PORGATE_BENCH_TRACE=PATH in benchmarks/services_proc.py; written to PATH at exit.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import json
import time
from collections import defaultdict
from typing import Any

# consumer ("service:consumer") currently processing a batch in this task
_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    "bench_consumer", default="(outside a batch)"
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


def _timed_method(cls: type, name: str, step: str) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    async def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            TOTALS.add(TOTALS.steps, _current.get(), step, time.perf_counter() - t)

    setattr(cls, name, wrapper)


def install() -> None:
    import asyncpg.connection

    from services.common import runtime as rt

    original_batch = rt.Runtime.process_batch

    async def process_batch(self, consumer, message):
        key = f"{self.service.name}:{consumer.name}"
        token = _current.set(key)
        t = time.perf_counter()
        try:
            TOTALS.batch_sizes[key].append(len(message.raw_message))
            return await original_batch(self, consumer, message)
        finally:
            TOTALS.add(
                TOTALS.steps,
                key,
                "process_batch (decode + transaction + wait for the batch before)",
                time.perf_counter() - t,
            )
            _current.reset(token)

    rt.Runtime.process_batch = process_batch
    _timed_method(rt.Runtime, "_transaction", "_transaction (inbox + handlers + outbox, committed)")
    _timed_method(
        rt.Runtime, "_finish", "_finish (publish + offset commit; overlaps the next batch)"
    )
    _timed_method(rt.Runtime, "publish_rows", "publish_rows (send + acks + DELETE outbox)")
    _timed_method(rt.Runtime, "_commit", "_commit (Kafka offset commit)")
    _timed_method(rt.Runtime, "_record_lag", "_record_lag (lag metric)")
    original_decode = rt.decode

    def decode(raw, topic=None):
        t = time.perf_counter()
        try:
            return original_decode(raw, topic)
        finally:
            TOTALS.add(
                TOTALS.steps, _current.get(), "decode (codec.decode)", time.perf_counter() - t
            )

    rt.decode = decode

    for method in ("execute", "executemany", "fetch", "fetchval", "fetchrow"):
        original = getattr(asyncpg.connection.Connection, method)

        def make(original, method):
            @functools.wraps(original)
            async def wrapper(self, query, *args, **kwargs):
                t = time.perf_counter()
                try:
                    return await original(self, query, *args, **kwargs)
                finally:
                    label = " ".join(str(query).split())[:70]
                    TOTALS.add(
                        TOTALS.sql, _current.get(), f"{method}: {label}", time.perf_counter() - t
                    )

            return wrapper

        setattr(asyncpg.connection.Connection, method, make(original, method))


def wrap_services(services: list) -> list:
    """Time every handler (the service's own work per event, its SQL included)."""
    out = []
    for service in services:
        consumers = []
        for c in service.consumers:

            def make(handle):
                @functools.wraps(handle)
                async def timed(conn, event):
                    t = time.perf_counter()
                    try:
                        return await handle(conn, event)
                    finally:
                        TOTALS.add(
                            TOTALS.steps,
                            _current.get(),
                            "handler (per event, its SQL included)",
                            time.perf_counter() - t,
                        )

                return timed

            def make_many(handle_many):
                @functools.wraps(handle_many)
                async def timed_many(conn, events):
                    t = time.perf_counter()
                    try:
                        return await handle_many(conn, events)
                    finally:
                        TOTALS.add(
                            TOTALS.steps,
                            _current.get(),
                            "handle_many (whole batch, its SQL included)",
                            time.perf_counter() - t,
                        )

                return timed_many

            changes = {"handle": make(c.handle)}
            if getattr(c, "handle_many", None) is not None:
                changes["handle_many"] = make_many(c.handle_many)
            consumers.append(dataclasses.replace(c, **changes))
        service.consumers = tuple(consumers)
        out.append(service)
    return out


def dump(path: str) -> None:
    with open(path, "w") as f:
        json.dump(TOTALS.report(), f, indent=2)
