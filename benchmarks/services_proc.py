"""The system under test, in a process of its own: `python3 -m benchmarks.services_proc NAME...`.

NAME is one or more of the services of `services.catalog` (built into one faststream app
with `build_app`, exactly as `porgate run` does, health server included), or `api` (the
POR validation API, `create_app` served by `HttpServer`). Settings come from the
`PORGATE_*` environment variables. Prints `READY` on standard output once started, runs
until SIGTERM or SIGINT, then stops in order.

PORGATE_BENCH_TRACE=PATH adds up, per consumer, the wall-clock time of each batch stage (the
runtime reports them to build_app's `stage_timer`), of each handler call and of each SQL
statement (benchmarks/trace.py), and writes it to PATH on exit.
PORGATE_BENCH_CPROFILE=PATH profiles the process with cProfile and writes the stats to PATH.<service>
on exit (py-spy, attached from outside, is the lighter option: see benchmarks/run.py --profile).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

from services.common import event_loop


async def main(names: list[str]) -> None:
    from services.common.logs import configure_logging
    from services.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if names == ["api"]:
        from services.api.app import create_app
        from services.common.health import HttpServer

        server = HttpServer(
            create_app(settings), settings.api_host, settings.api_port, lifespan="on"
        )
        await server.start()
        print("READY", flush=True)
        try:
            await stop.wait()
        finally:
            await server.stop()
        return

    from services.catalog import build_services
    from services.common.app import build_app

    services = build_services(names, settings)
    # Untraced, build_app keeps its own default: nothing of the benchmark in the batch path.
    timing = {}
    if os.environ.get("PORGATE_BENCH_TRACE"):
        from benchmarks import trace

        timing["stage_timer"] = trace.install()
        services = trace.wrap_services(services)
    app, _ = build_app(services, settings, serve_health=True, **timing)
    await app.start()
    print("READY", flush=True)
    try:
        await stop.wait()
    finally:
        await app.stop()


def run() -> None:
    names = sys.argv[1:]
    if not names:
        sys.exit("usage: python3 -m benchmarks.services_proc SERVICE... | api")
    profile_path = os.environ.get("PORGATE_BENCH_CPROFILE")
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        event_loop.run(main(names))
    finally:
        if os.environ.get("PORGATE_BENCH_TRACE"):
            from benchmarks import trace

            trace.dump(os.environ["PORGATE_BENCH_TRACE"])
        if profiler is not None:
            profiler.disable()
            with contextlib.suppress(OSError):
                profiler.dump_stats(f"{profile_path}.{'+'.join(names)}")


if __name__ == "__main__":
    run()
