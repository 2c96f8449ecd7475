"""What the overview reads from the broker: dead-letter depth and each consumer group's lag.

Read with group-less consumers (the on-call tools' `reader`), committing nothing and
joining no group. Each figure costs a few round trips to the broker, so the console keeps
them for `BrokerFigures.ttl_s` and refreshes them behind the page views.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from contracts.topics import DLQ
from services.catalog import all_services
from services.common.kafka_clients import new_consumer, start_client
from services.common.kafka_security import KafkaSetupError
from services.common.runtime import group_id
from services.ops.topic_io import ReplayError, partition_offsets, reader
from services.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    lag: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    dead_letters: int | None  # None: the broker did not answer
    lags: tuple[GroupLag, ...]
    error: str | None = None


def consumer_groups(settings: Settings) -> list[tuple[str, list[str]]]:
    """Every service consumer's group and its topics (prefixed), as `porgate run` names them."""
    # The registry authority does not change the consumers, and needs no Partner Center client.
    plain = settings.model_copy(update={"por_authority": "registry"})
    return [
        (group_id(plain, s, c), [settings.topic_prefix + t.name for t in c.topics])
        for s in all_services(plain)
        for c in s.consumers
    ]


async def _dead_letter_depth(settings: Settings) -> int:
    async with reader(settings) as consumer:
        beginning, end = await partition_offsets(consumer, settings.topic_prefix + DLQ.name)
    return sum(end[p] - beginning.get(p, 0) for p in end)


async def _group_lag(settings: Settings, group: str, topics: list[str]) -> int:
    # A consumer with the group's id but no subscription: it reads the group's committed
    # offsets without joining (the admin API's offset listing fails on some brokers, Tansu).
    consumer = new_consumer(
        settings, client_id="porgate-console", group_id=group, enable_auto_commit=False
    )
    await start_client(consumer, settings)
    try:
        await consumer.topics()  # fetches every topic's metadata
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return 0
        end = await consumer.end_offsets(tps)
        lag = 0
        for tp in tps:
            committed = await consumer.committed(tp)
            # Never committed: the group starts from the beginning, all of it is behind.
            lag += max(0, end[tp] - (committed or 0))
        return lag
    finally:
        await consumer.stop()


@dataclass
class BrokerFigures:
    settings: Settings
    ttl_s: float = 10.0
    timeout_s: float = 5.0
    _snapshot: Snapshot | None = None
    _taken_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _refreshing: asyncio.Task | None = None

    async def snapshot(self) -> Snapshot:
        """The last figures; a stale one is refreshed in the background, so only the very
        first page view waits for the broker."""
        async with self._lock:
            if self._snapshot is None:
                await self._refresh()
            elif time.monotonic() - self._taken_at > self.ttl_s and self._refreshing is None:
                self._refreshing = asyncio.create_task(self._refresh_in_background())
            assert self._snapshot is not None
            return self._snapshot

    async def _refresh(self) -> None:
        self._snapshot = await self._take()
        self._taken_at = time.monotonic()

    async def _refresh_in_background(self) -> None:
        try:
            await self._refresh()
        finally:
            self._refreshing = None

    async def _take(self) -> Snapshot:
        groups = consumer_groups(self.settings)
        try:
            async with asyncio.timeout(self.timeout_s):
                depth, *lags = await asyncio.gather(
                    _dead_letter_depth(self.settings),
                    *(_group_lag(self.settings, g, topics) for g, topics in groups),
                )
        except KafkaSetupError as exc:
            log.warning("console: broker figures unavailable", extra={"error": str(exc)})
            return Snapshot(None, (), str(exc))
        except (TimeoutError, OSError, KafkaError, ReplayError) as exc:
            # The page shows the broker as unavailable instead.
            log.warning("console: broker figures unavailable", extra={"error": repr(exc)})
            return Snapshot(None, (), "the broker did not answer")
        prefix = self.settings.topic_prefix
        return Snapshot(
            depth,
            tuple(
                GroupLag(g.removeprefix(prefix), lag)
                for (g, _), lag in zip(groups, lags, strict=True)
            ),
        )

    def forget(self) -> None:
        """After a redrive: the next overview reads the broker again."""
        self._taken_at = 0.0
