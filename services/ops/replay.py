"""Topic replays: copy a slice of a topic (offsets and/or a time window) to it or another topic.

Each copy keeps its key, value and headers, so it keeps its CloudEvents id and lands on its
key's partition again: a consumer's inbox turns a second copy into a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from contracts.topics import DLQ, TOPICS_BY_NAME
from services.ops.topic_io import (
    Headers,
    ProgressFn,
    ReplayError,
    Slice,
    in_window,
    partition_offsets,
    plan_slices,
    reader,
    records,
    report_progress,
    sending,
)
from services.settings import Settings

REPLAYED_FROM = "x-replayed-from"


def replay_headers(
    headers: Headers, source: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in headers if k != REPLAYED_FROM]
    return kept + [(REPLAYED_FROM, f"{source}/{partition}/{offset}".encode())]


def check_replay_target(source: str, target: str) -> None:
    """Refuse copying between two contract topics whose event types differ: every copy would be dead-lettered."""
    src, dst = TOPICS_BY_NAME.get(source), TOPICS_BY_NAME.get(target)
    if src is None or dst is None or src is dst:
        return
    if not set(src.event_types) & set(dst.event_types):
        hint = " (use `porgate dlq redrive` for dead letters)" if src is DLQ else ""
        raise ReplayError(
            f"{source} and {target} carry different event types; refusing to copy{hint}"
        )


@dataclass
class ReplayResult:
    source: str
    target: str
    slices: list[Slice]
    scanned: int = 0
    copied: int = 0  # with dry_run: what would be copied
    per_partition: dict[int, int] = field(default_factory=dict)


async def replay_topic(
    settings: Settings,
    source: str,
    *,
    target: str | None = None,
    partitions: Sequence[int] | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    on_progress: ProgressFn | None = None,
    ends: Mapping[int, int] | None = None,
) -> ReplayResult:
    """Copy a slice of `source` (offsets, inclusive, and/or a window of record timestamps) to `target`.

    Topic names are the contract's; the settings' topic prefix is prepended. Keys, values
    and headers are kept (plus x-replayed-from), so each copy lands on its key's partition again.
    `ends`, a dry run's slice ends, stops each partition there: an operator who confirmed a
    plan gets that plan, not also what arrived since.
    """
    target = target or source
    check_replay_target(source, target)
    if since is not None and until is not None and since >= until:
        raise ReplayError("--since must be before --until")
    prefix = settings.topic_prefix
    src = prefix + source
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, src)
        if target != source and prefix + target not in await consumer.topics():
            raise ReplayError(f"topic {prefix + target!r} not found")
        slices = plan_slices(beginning, end, partitions, from_offset, to_offset)
        if ends is not None:
            slices = [
                Slice(s.partition, s.start, max(s.start, min(s.stop, ends.get(s.partition, 0))))
                for s in slices
            ]
        result = ReplayResult(
            source, target, slices, per_partition={s.partition: 0 for s in slices}
        )
        total = sum(s.size for s in slices)
        report_progress(on_progress, 0, total)
        timed = since is not None or until is not None
        async with sending(settings, dry_run, rate) as sender:
            async for r in records(consumer, src, slices):
                result.scanned += 1
                if not timed or in_window(r.timestamp, since, until):
                    result.copied += 1
                    result.per_partition[r.partition] += 1
                    if not dry_run:
                        headers = replay_headers(r.headers or (), source, r.partition, r.offset)
                        await sender.send(prefix + target, r.value, r.key, headers)
                report_progress(on_progress, result.scanned, total)
    return result
