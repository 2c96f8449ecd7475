"""A started service: its pool, outbox, dead letters, one pipeline per consumer, its workers
and housekeeping. Built only by `ServiceRuntime.start`, so every part exists from the start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer

from services.common import inbox
from services.common.config import RuntimeSettings
from services.common.db import create_pool
from services.common.dead_letters import DeadLetters
from services.common.kafka import consumer_group
from services.common.outbox import Outbox
from services.common.pipeline import BatchPipeline
from services.common.retry import Retrier
from services.common.service import Consumer, Service
from services.common.stage_timer import StageTimer, untimed
from services.common.workers import WorkerContext

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_S = 3600.0


def group_id(settings: RuntimeSettings, service: Service, consumer: Consumer) -> str:
    """porgate.SERVICE.CONSUMER: each consumer commits its own offsets."""
    return consumer_group(settings.topic_prefix, service.name, consumer.name)


@dataclass
class ServiceRuntime:
    service: Service
    settings: RuntimeSettings
    pool: asyncpg.Pool
    outbox: Outbox
    pipelines: dict[str, BatchPipeline]  # by consumer name
    worker_context: WorkerContext
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        service: Service,
        settings: RuntimeSettings,
        producer: AIOKafkaProducer,
        stage_timer: StageTimer = untimed,
    ) -> ServiceRuntime:
        """Connect, send what a crash left in the outbox, start housekeeping and workers."""
        retrying = Retrier(service.name, settings.retry_initial_s, settings.retry_max_s)
        # Each consumer's extra transactions at once get connections of their own.
        concurrency = settings.consumer_concurrency
        pool_size = service.pool_size + (concurrency - 1) * len(service.consumers)
        pool = await retrying(
            "connect",
            lambda: create_pool(settings.database_url, service.schema, max_size=pool_size),
        )
        prefix = settings.topic_prefix
        box = Outbox(service.name, pool, producer, retrying, prefix)
        dead_letters = DeadLetters(service.name, producer, retrying, prefix)
        wakeup = asyncio.Event()
        pipelines = {
            c.name: BatchPipeline(
                service=service.name,
                consumer=c,
                unit_of_work=service.unit_of_work,
                group_id=group_id(settings, service, c),
                pool=pool,
                outbox=box,
                dead_letters=dead_letters,
                retrying=retrying,
                poison_attempts=settings.poison_attempts,
                topic_prefix=prefix,
                on_committed=wakeup.set,
                stage_timer=stage_timer,
                concurrency=concurrency,
            )
            for c in service.consumers
        }
        context = WorkerContext(service.name, settings, pool, box, retrying, wakeup, dead_letters)
        runtime = cls(service, settings, pool, box, pipelines, context)
        await box.publish_pending()
        runtime._spawn("housekeeping", runtime._housekeeping())
        for worker in service.workers:
            # A worker with settings bound (functools.partial) is named by its function.
            name = getattr(worker, "__name__", None) or worker.func.__name__  # type: ignore[attr-defined]
            runtime._spawn(name, worker(context))
        return runtime

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=f"{self.service.name}:{name}"))

    async def drain(self) -> None:
        """Before the consumers stop: publish the batches in flight, commit their offsets and
        delete their outbox rows."""
        await asyncio.gather(*(p.drain() for p in self.pipelines.values()))
        await self.outbox.drain()

    async def stop(self) -> None:
        self.worker_context.retrying.stopping.set()
        self.worker_context.wakeup.set()
        in_flight = [t for p in self.pipelines.values() for t in p.cancel()]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *in_flight, return_exceptions=True)
        # Last, as workers may have queued deletes while stopping: rows not deleted are
        # sent again at the next start, and consumers dedupe.
        if (deleting := self.outbox.cancel()) is not None:
            await asyncio.gather(deleting, return_exceptions=True)
        for close in self.service.closing:
            await close()
        await self.pool.close()

    async def prune(self) -> tuple[int, int]:
        """Housekeeping: (outbox, inbox) rows deleted."""
        return await self.outbox.prune(), await inbox.prune(
            self.pool, self.settings.inbox_retention_days
        )

    async def _housekeeping(self) -> None:
        retrying = self.worker_context.retrying
        while not retrying.stopping.is_set():
            try:
                await self.prune()
            except Exception:
                log.warning(
                    "housekeeping failed", extra={"service": self.service.name}, exc_info=True
                )
            if not await retrying.sleep_unless_stopping(HOUSEKEEPING_EVERY_S):
                return
