"""Partner Center's stand-in in a process of its own, for the `partner-center` and `isolation`
phases: `python3 -m benchmarks.standin_proc PORT RESELLERS SEED DELAY_S COUNTS_FILE [TENANT]`.

It answers for DemoWorld's distributors (services/devtools/demo_standins.py `standin_tenants`)
after a fixed `DELAY_S`, as a far-away service would; prints READY once serving; on SIGTERM
writes how many calls each endpoint received to COUNTS_FILE. A process of its own, so that
serving it takes no CPU from the load generator's event loop. With TENANT, SIGUSR1 takes that
tenant's Partner Center down (503 to its every call) and SIGUSR2 brings it back.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path


async def main(
    port: int, resellers: int, seed: int, delay_s: float, counts_file: Path, tenant: str | None
) -> None:
    from services.devtools.demo import DemoWorld
    from services.devtools.demo_standins import standin_tenants
    from services.partner_center.standin import PartnerCenterStandin, serving

    standin = PartnerCenterStandin(
        standin_tenants(DemoWorld(resellers=resellers, seed=seed)), delay_s=delay_s
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if tenant:
        loop.add_signal_handler(signal.SIGUSR1, standin.take_down, tenant)
        loop.add_signal_handler(signal.SIGUSR2, standin.bring_up, tenant)
    async with serving(standin, port):
        print("READY", flush=True)
        await stop.wait()
    counts = {**standin.calls, "max_in_flight": standin.max_in_flight}
    counts_file.write_text(json.dumps(counts))


if __name__ == "__main__":
    port, resellers, seed, delay, counts = sys.argv[1:6]
    tenant = sys.argv[6] if len(sys.argv) > 6 else None
    asyncio.run(main(int(port), int(resellers), int(seed), float(delay), Path(counts), tenant))
