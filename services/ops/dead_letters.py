"""Dead letters (por.dlq.v1): list, inspect, and redrive them to their source topics.

A redriven copy keeps its CloudEvents id, so a second redrive is a no-op at the consumer.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts.topics import DLQ, DLQ_HEADERS, TOPICS_BY_NAME
from services.ops.topic_io import (
    Headers,
    ProgressFn,
    Slice,
    format_age,
    header_map,
    parse_time,
    partition_offsets,
    plan_slices,
    reader,
    records,
    report_progress,
    sending,
)
from services.settings import Settings

REDRIVEN_OFFSET = "x-redriven-from-dlq-offset"
REDRIVEN_PARTITION = "x-redriven-from-dlq-partition"


# ----------------------------------------------------------------------------- pure pieces


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    consumer_group: str | None
    error: str | None
    failed_at: datetime | None

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "replace") if self.key is not None else ""

    def summary(self, now: datetime) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "sourceTopic": self.source_topic,
            "sourcePartition": self.source_partition,
            "sourceOffset": self.source_offset,
            "consumerGroup": self.consumer_group,
            "error": self.error,
            "failedAt": self.failed_at.isoformat() if self.failed_at else None,
            "age": format_age(self.failed_at, now),
            "key": self.key_text if self.key is not None else None,
        }


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_dead_letter(
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
) -> DeadLetter:
    h = header_map(headers)
    try:
        failed_at = parse_time(h["x-dlq-failed-at"]) if "x-dlq-failed-at" in h else None
    except ValueError:
        failed_at = None
    if failed_at is None and timestamp_ms >= 0:
        failed_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return DeadLetter(
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        headers=tuple(headers or ()),
        source_topic=h.get("x-dlq-source-topic") or None,
        source_partition=_int_or_none(h.get("x-dlq-source-partition")),
        source_offset=_int_or_none(h.get("x-dlq-source-offset")),
        consumer_group=h.get("x-dlq-consumer-group"),
        error=h.get("x-dlq-error"),
        failed_at=failed_at,
    )


def parse_json(data: bytes | str) -> Any:
    """json.loads for a dead letter's value, which may hold anything. ValueError for what is
    no JSON, and for JSON that cannot be shown as it parsed (the caller shows the raw text
    instead): nested too deeply for the parser, NaN or Infinity (no JSON to a reader of
    `--format json`), a lone UTF-16 surrogate (no UTF-8 page or terminal takes it)."""
    try:
        parsed = json.loads(data, parse_constant=_no_constant)
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeEncodeError:
        raise ValueError("a lone UTF-16 surrogate in a string") from None
    return parsed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def redrive_headers(
    headers: Headers, dlq_partition: int, dlq_offset: int
) -> list[tuple[str, bytes]]:
    """The original headers without the DLQ's (or an earlier redrive's), plus where this copy came from."""
    drop = {*DLQ_HEADERS, REDRIVEN_OFFSET, REDRIVEN_PARTITION}
    kept = [(k, v) for k, v in headers if k not in drop and not k.startswith("x-dlq-")]
    return kept + [
        (REDRIVEN_PARTITION, str(dlq_partition).encode()),
        (REDRIVEN_OFFSET, str(dlq_offset).encode()),
    ]


def redrive_problem(letter: DeadLetter) -> str | None:
    """Why this dead letter cannot be redriven, or None."""
    if letter.source_topic is None:
        return "no x-dlq-source-topic header"
    if letter.source_topic not in TOPICS_BY_NAME:
        return f"unknown source topic {letter.source_topic!r}"
    if letter.source_topic == DLQ.name:
        return "source topic is the DLQ itself"
    if letter.value is None:
        return "no value (tombstone)"
    return None


# ----------------------------------------------------------------------------- the commands


async def list_dead_letters(
    settings: Settings,
    *,
    source_topic: str | None = None,
    limit: int | None = None,
    on_progress: ProgressFn | None = None,
) -> list[DeadLetter]:
    """Dead letters in DLQ order (partition, offset); with `limit`, the newest that many."""
    topic = settings.topic_prefix + DLQ.name
    letters: list[DeadLetter] = []
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, topic)
        if limit is not None and source_topic is None:
            # The newest `limit` letters are among each partition's last `limit`: read no more
            # (a DLQ keeps 30 days; the console lists it on every page view).
            beginning = {p: max(b, end[p] - limit) for p, b in beginning.items()}
        slices = plan_slices(beginning, end)
        total, done = sum(s.size for s in slices), 0
        report_progress(on_progress, 0, total)
        async for r in records(consumer, topic, slices):
            letter = parse_dead_letter(
                r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
            )
            if source_topic is None or letter.source_topic == source_topic:
                letters.append(letter)
            done += 1
            report_progress(on_progress, done, total)
    if limit is not None:
        letters = (
            sorted(letters, key=lambda d: (d.timestamp_ms, d.partition, d.offset))[-limit:]
            if limit > 0
            else []
        )
        letters.sort(key=lambda d: (d.partition, d.offset))
    return letters


async def dead_letter_at(settings: Settings, offset: int, partition: int = 0) -> DeadLetter | None:
    topic = settings.topic_prefix + DLQ.name
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, topic)
        if partition not in end or not beginning[partition] <= offset < end[partition]:
            return None
        async with contextlib.aclosing(
            records(consumer, topic, [Slice(partition, offset, offset + 1)])
        ) as found:
            async for r in found:
                return parse_dead_letter(
                    r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
                )
    return None


@dataclass
class RedriveResult:
    selected: list[DeadLetter] = field(default_factory=list)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # asked-for offsets that are not in the DLQ
    sent: int = 0


async def redrive(
    settings: Settings,
    *,
    offsets: Sequence[int] | None = None,
    partition: int = 0,
    source_topic: str | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    on_progress: ProgressFn | None = None,
) -> RedriveResult:
    """Publish dead letters (all, or these offsets of `partition`) to their source topics, unchanged.

    The copy keeps its key, value and non-DLQ headers, so the consumer sees the original
    event again: if it was processed meanwhile, its inbox makes the copy a no-op; if it is
    still malformed, it is dead-lettered again.
    """
    prefix = settings.topic_prefix
    topic = prefix + DLQ.name
    result = RedriveResult()
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, topic)
        if offsets is None:
            slices = plan_slices(beginning, end)
        else:
            plan = plan_slices(beginning, end, [partition])[0]
            wanted = sorted(set(offsets))
            result.missing = [o for o in wanted if not plan.start <= o < plan.stop]
            slices = [Slice(partition, o, o + 1) for o in wanted if plan.start <= o < plan.stop]
        async for r in records(consumer, topic, slices):
            letter = parse_dead_letter(
                r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
            )
            if source_topic is not None and letter.source_topic != source_topic:
                continue
            problem = redrive_problem(letter)
            if problem is None:
                result.selected.append(letter)
            else:
                result.skipped.append((letter, problem))
    if not dry_run:
        await _send_selected(settings, result, rate, on_progress)
    return result


async def _send_selected(
    settings: Settings, result: RedriveResult, rate: float | None, on_progress: ProgressFn | None
) -> None:
    """Publish the result's selected letters to their source topics with one producer."""
    total = len(result.selected)
    report_progress(on_progress, 0, total)
    async with sending(settings, False, rate) as sender:
        for done, letter in enumerate(result.selected, 1):
            await sender.send(
                settings.topic_prefix + letter.source_topic,  # type: ignore[operator]
                letter.value,
                letter.key,
                redrive_headers(letter.headers, letter.partition, letter.offset),
            )
            report_progress(on_progress, done, total)
    result.sent = sender.sent


# ----------------------------------------------------------------------------- for the console
# A page view or a form post: one consumer each, however many letters, and never a whole
# 30-day DLQ read for one distributor's handful.

# The most records one listing reads, going back from the newest, to find a reader's letters.
MAX_SCANNED = 20_000


async def newest_dead_letters(
    settings: Settings,
    keep: Callable[[DeadLetter], bool],
    limit: int,
    max_scanned: int = MAX_SCANNED,
) -> tuple[list[DeadLetter], bool]:
    """The newest `limit` dead letters that `keep` accepts (a distributor's, say), in DLQ
    order, read back from each partition's end in doubling windows with one consumer; and
    whether the scan reached `max_scanned` records before the beginning of the DLQ."""
    topic = settings.topic_prefix + DLQ.name
    found: list[DeadLetter] = []
    scanned, truncated = 0, False
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, topic)
        for p in sorted(end):
            stop, window, kept = end[p], max(limit, 1), []
            while stop > beginning.get(p, 0) and len(kept) < limit:
                if scanned >= max_scanned:
                    truncated = True
                    break
                start = max(beginning.get(p, 0), stop - min(window, max_scanned - scanned))
                older = []
                async for r in records(consumer, topic, [Slice(p, start, stop)]):
                    scanned += 1
                    letter = parse_dead_letter(
                        r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
                    )
                    if keep(letter):
                        older.append(letter)
                kept = older + kept
                stop, window = start, window * 2
            found += kept[-limit:] if limit > 0 else []
    newest = sorted(found, key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    newest = newest[-limit:] if limit > 0 else []
    newest.sort(key=lambda d: (d.partition, d.offset))
    return newest, truncated


async def letters_at(
    settings: Settings, wanted: Mapping[int, Iterable[int]]
) -> tuple[list[DeadLetter], list[tuple[int, int]]]:
    """These dead letters (partition -> offsets), read with one consumer; and the (partition,
    offset) pairs asked for that are not in the DLQ, an unknown partition's included."""
    topic = settings.topic_prefix + DLQ.name
    found: list[DeadLetter] = []
    missing: list[tuple[int, int]] = []
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, topic)
        for p, offsets in sorted(wanted.items()):
            chosen = sorted(set(offsets))
            if p not in end:
                missing += [(p, o) for o in chosen]
                continue
            present = [o for o in chosen if beginning.get(p, 0) <= o < end[p]]
            asked = set(present)
            missing += [(p, o) for o in chosen if o not in asked]
            async for r in records(consumer, topic, _runs(p, present)):
                if r.offset in asked:
                    found.append(
                        parse_dead_letter(
                            r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
                        )
                    )
    return found, missing


def _runs(partition: int, offsets: Sequence[int]) -> list[Slice]:
    """Sorted offsets as the fewest slices of consecutive ones."""
    out: list[Slice] = []
    for o in offsets:
        if out and out[-1].stop == o:
            out[-1] = Slice(partition, out[-1].start, o + 1)
        else:
            out.append(Slice(partition, o, o + 1))
    return out


async def redrive_letters(
    settings: Settings, letters: Sequence[DeadLetter], *, dry_run: bool
) -> RedriveResult:
    """Redrive these letters, already read (letters_at), with one producer."""
    result = RedriveResult()
    for letter in letters:
        problem = redrive_problem(letter)
        if problem is None:
            result.selected.append(letter)
        else:
            result.skipped.append((letter, problem))
    if not dry_run and result.selected:
        await _send_selected(settings, result, None, None)
    return result
