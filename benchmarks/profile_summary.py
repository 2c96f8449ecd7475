"""Summarise py-spy's raw (collapsed stack) output: where the services' CPU goes.

`python3 -m benchmarks.profile_summary FILE...` prints, per file (one per services process):
busy vs idle samples, the top functions by self time and by inclusive time, and self time
grouped by library. Samples whose innermost frame is the event loop's select() are idle.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
IDLE_LEAVES = ("EpollSelector.select", "select (selectors.py", "KqueueSelector.select")

# Library of a frame, from its file path as py-spy prints it (relative to site-packages or the repo).
GROUPS = [
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("asyncpg", ("asyncpg/",)),
    ("aiokafka", ("aiokafka/", "kafka/")),
    ("faststream", ("faststream/",)),
    ("asyncio (event loop, streams, tasks)", ("asyncio/", "selectors.py")),
    ("json (stdlib)", ("json/",)),
    ("logging / pythonjsonlogger", ("logging/", "pythonjsonlogger/")),
    ("prometheus_client", ("prometheus_client/",)),
    ("uuid / hashlib / datetime (stdlib)", ("uuid.py", "hashlib", "datetime.py", "_strptime")),
    ("tenacity", ("tenacity/",)),
    ("porgate contracts/", ("contracts/",)),
    ("porgate services/common/", ("services/common/",)),
    ("porgate services/domain/", ("services/domain/",)),
    ("porgate services/ (handlers, stores)", ("services/",)),
    ("starlette / uvicorn / anyio", ("starlette/", "uvicorn/", "anyio/", "h11/", "httptools/")),
]


def group_of(frame: str) -> str:
    m = _FRAME.match(frame)
    path = m.group("file") if m else frame
    for name, needles in GROUPS:
        if any(n in path for n in needles):
            return name
    return "other: " + (path.split("/")[0] if "/" in path else path)


def function_of(frame: str) -> str:
    """`func (file:line)` -> `func (file)`: samples of one function add up across its lines."""
    m = _FRAME.match(frame)
    return f"{m.group('func')} ({m.group('file')})" if m else frame


def is_porgate(frame: str) -> bool:
    m = _FRAME.match(frame)
    return bool(m) and m.group("file").startswith(("contracts/", "services/"))


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.rstrip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [
            function_of(f)
            for f in stack.split(";")
            if f and not f.startswith(("process ", "thread "))
        ]
        stacks.append((frames, n))
    return stacks


def summarize(
    path: Path, top: int = 25, seconds: float | None = None, rate: int | None = None
) -> dict:
    """py-spy records only samples where the process was running (not idle in the event
    loop's select()); percentages are of those on-CPU samples."""
    stacks = parse(path)
    idle = sum(n for frames, n in stacks if frames and frames[-1].startswith(IDLE_LEAVES))
    busy = sum(n for _, n in stacks) - idle
    self_t, incl, groups, porgate_entry = Counter(), Counter(), Counter(), Counter()
    for frames, n in stacks:
        if not frames or frames[-1].startswith(IDLE_LEAVES):
            continue
        self_t[frames[-1]] += n
        groups[group_of(frames[-1])] += n
        for f in set(frames):
            incl[f] += n
        # The library call a porgate function made that this sample is inside (the first
        # non-porgate frame below the innermost porgate frame): "who pays for pydantic".
        last = max((i for i, f in enumerate(frames) if is_porgate(f)), default=None)
        if last is not None and last + 1 < len(frames):
            porgate_entry[f"{frames[last]} -> {frames[last + 1]}"] += n

    def pct(n: int) -> float:
        return round(100.0 * n / busy, 1) if busy else 0.0

    return {
        "file": str(path),
        "on_cpu_samples": busy,
        # Samples over (seconds x rate): roughly the share of wall time the process was on a CPU.
        "on_cpu_share_of_wall": round(busy / (seconds * rate), 2) if seconds and rate else None,
        "self": [(f, pct(n)) for f, n in self_t.most_common(top)],
        "inclusive_porgate": [(f, pct(n)) for f, n in incl.most_common() if is_porgate(f)][:top],
        "porgate_to_library": [(f, pct(n)) for f, n in porgate_entry.most_common(top)],
        "by_library": [(g, pct(n)) for g, n in groups.most_common()],
    }


def render(s: dict) -> str:
    share = (
        f", on a CPU ~{s['on_cpu_share_of_wall']:.0%} of the wall time"
        if s.get("on_cpu_share_of_wall")
        else ""
    )
    out = [
        f"== {Path(s['file']).name}: {s['on_cpu_samples']} on-CPU samples{share}; percentages are of on-CPU samples"
    ]
    out.append("-- self time by library (innermost frame)")
    out += [f"  {p:5.1f}%  {g}" for g, p in s["by_library"]]
    out.append("-- top functions, self time")
    out += [f"  {p:5.1f}%  {f}" for f, p in s["self"]]
    out.append("-- porgate functions, inclusive time")
    out += [f"  {p:5.1f}%  {f}" for f, p in s["inclusive_porgate"]]
    out.append("-- porgate function -> the library call it is in (inclusive)")
    out += [f"  {p:5.1f}%  {f}" for f, p in s["porgate_to_library"]]
    return "\n".join(out)


def summarize_files(
    paths: list[Path], top: int = 25, seconds: float | None = None, rate: int | None = None
) -> dict:
    summaries = [summarize(p, top, seconds, rate) for p in paths if p.exists()]
    return {"files": summaries, "text": "\n\n".join(render(s) for s in summaries) + "\n"}


if __name__ == "__main__":
    print(summarize_files([Path(a) for a in sys.argv[1:]])["text"])
