"""The benchmark's child processes: the services under test, py-spy, and the databases they get.

Every process the load generator starts prints READY once it serves and stops on SIGTERM
(benchmarks/services_proc.py, benchmarks/relay_proc.py); each phase gets a fresh copy of
the template database, and may first wait for the rest of the machine to go quiet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

from benchmarks.stats import CpuMeter

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SERVICES = ["order-intake", "por-validator"]


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def db_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class Proc:
    """A child process that prints READY when it is serving; stopped with SIGTERM."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name, self.proc, self.log_path = name, proc, log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls, name: str, argv: list[str], env: dict[str, str], log_path: Path, timeout: float = 90
    ) -> Proc:
        log_file = open(log_path, "ab")  # noqa: SIM115, ASYNC230 - handed to the child
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=log_file
        )
        log_file.close()
        self = cls(name, proc, log_path)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        raise RuntimeError(
                            f"{name} exited before READY (code {await proc.wait()}); see {log_path}"
                        )
                    if line.strip() == b"READY":
                        break
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self, timeout: float = 30) -> int | None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode


@dataclass
class Ctx:
    args: argparse.Namespace
    bootstrap: str
    admin_url: str  # the benchmark's own database on the embedded server
    run_id: str
    out_dir: Path
    kafka_pid: int
    pg_pid: int | None
    template_db: str = "bench_template"
    notes: list[str] = field(default_factory=list)
    # --what-if: environment for the services processes that departs from porgate's defaults
    what_if_env: dict[str, str] = field(default_factory=dict)


def porgate_env(ctx: Ctx, *, prefix: str, database_url: str, **extra: str) -> dict[str, str]:
    from services.common.ports import free_port

    # The caller's PORGATE_* settings stay out (each phase sets its own), but not the
    # benchmark's own switches (PORGATE_BENCH_CPROFILE).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORGATE_") or k.startswith("PORGATE_BENCH_")
    }
    env.update(
        PORGATE_KAFKA_BOOTSTRAP_SERVERS=ctx.bootstrap,
        PORGATE_DATABASE_URL=database_url,
        PORGATE_TOPIC_PREFIX=prefix,
        PORGATE_HEALTH_PORT=str(free_port()),
        PORGATE_INSTANCE_ID=f"bench-{prefix.rstrip('.')}",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"PORGATE_{k.upper()}": v for k, v in extra.items()})
    env.update(ctx.what_if_env)
    return env


async def start_services(
    ctx: Ctx,
    label: str,
    names: list[str],
    *,
    prefix: str,
    database_url: str,
    trace: bool = False,
    env_extra: dict[str, str] | None = None,
) -> list[Proc]:
    """`one`: both services in one process; `two`: a process per service (as `porgate run X` each).
    With `trace`, each process adds up its batch steps and SQL (benchmarks/trace.py)."""
    groups = [names] if ctx.args.layout == "one" or len(names) == 1 else [[n] for n in names]

    def env(g: list[str]) -> dict[str, str]:
        e = porgate_env(ctx, prefix=prefix, database_url=database_url) | (env_extra or {})
        if trace:
            e["PORGATE_BENCH_TRACE"] = str(ctx.out_dir / f"trace-{'+'.join(g)}.json")
        return e

    return list(
        await asyncio.gather(
            *(
                Proc.start(
                    "+".join(g),
                    [sys.executable, "-m", "benchmarks.services_proc", *g],
                    env(g),
                    ctx.out_dir / f"{label}-{'+'.join(g)}.log",
                )
                for g in groups
            )
        )
    )


async def stop_all(procs: Sequence[Proc]) -> None:
    await asyncio.gather(*(p.stop() for p in procs))


class PySpy:
    """py-spy attached to a process, non-blocking (it never pauses the target); stopped with SIGINT."""

    def __init__(self, pid: int, out: Path, rate: int) -> None:
        self.pid, self.out, self.rate = pid, out, rate
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.out.with_suffix(".log"), "ab") as err:  # noqa: ASYNC230 - a local file, once
            self.proc = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self.out),
                "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        self.started = time.monotonic()

    async def stop(self) -> float:
        assert self.proc is not None
        seconds = time.monotonic() - self.started
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return seconds


async def fresh_database(ctx: Ctx, name: str, template: str | None = None) -> str:
    admin = await asyncpg.connect(ctx.admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template or ctx.template_db}"')
    finally:
        await admin.close()
    return db_url(ctx.admin_url, name)


async def wait_quiet(ctx: Ctx, label: str, seconds: float | None = None) -> float:
    """Wait (up to `seconds`, by default --wait-quiet) until processes other than ours leave
    the cores alone; returns the seconds waited."""
    seconds = ctx.args.wait_quiet if seconds is None else seconds
    if seconds <= 0:
        return 0.0
    me = psutil.Process()
    ours = {me.pid, ctx.kafka_pid, *(c.pid for c in me.children(recursive=True))}
    if ctx.pg_pid:
        ours.add(ctx.pg_pid)
        with contextlib.suppress(psutil.Error):
            ours.update(c.pid for c in psutil.Process(ctx.pg_pid).children(recursive=True))
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    quiet = False
    while True:
        meter = CpuMeter({"ours": sorted(ours)}).start()
        await asyncio.sleep(2.0)
        r = meter.stop()
        other = r["other_processes_cores"]
        if other is not None and other < 0.25:
            quiet = True
            break
        if time.monotonic() > deadline:
            log(f"{label}: other processes still use {other} cores; going ahead")
            break
    waited = time.monotonic() - started
    ctx.notes.append(
        f"{label}: "
        + (
            f"quiet after {waited:.0f} s"
            if quiet
            else f"not quiet after {waited:.0f} s (other processes {other} cores); went ahead"
        )
    )
    return waited
