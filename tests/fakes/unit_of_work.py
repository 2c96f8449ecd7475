"""The unit of work in memory: the inbox and the outbox a service's fake adds its stores to."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Sequence
from hashlib import sha256
from typing import Any

from aiokafka import ConsumerRecord

from contracts.codec import encode
from services.common.handling import Outgoing
from services.common.inbox import Claim, Item


class FakeUnitOfWork:
    """One service's inbox and outbox, as committed: a test runs handlers against it batch
    after batch, as the pipeline would one transaction after another."""

    def __init__(self) -> None:
        self.inbox: dict[str, bytes] = {}  # event id -> sha256 of the body
        self.outbox: list[dict[str, Any]] = []
        self._next_row = 1

    async def claim(self, items: Sequence[Item]) -> Claim:
        fresh: list[Item] = []
        duplicates: list[Item] = []
        for record, event in items:
            if event.id in self.inbox:
                duplicates.append((record, event))
            else:
                self.inbox[event.id] = sha256(record.value).digest()
                fresh.append((record, event))
        return Claim(fresh, duplicates)

    async def reused(self, duplicates: Sequence[Item]) -> list[tuple[ConsumerRecord, str]]:
        reason = "event id {!r} was already processed with a different body; this copy was ignored"
        return [
            (record, reason.format(event.id))
            for record, event in duplicates
            if self.inbox.get(event.id) not in (None, sha256(record.value).digest())
        ]

    async def write_outbox(
        self,
        outgoing: Sequence[tuple[str, Outgoing]],
        carriers: Sequence[dict[str, str]] | None = None,
    ) -> list[dict[str, Any]]:
        rows = []
        for i, (source, o) in enumerate(outgoing):
            carrier = carriers[i] if carriers is not None else {}
            rows.append(
                {
                    "id": self._next_row,
                    "source_event_id": source,
                    "topic": o.topic.name,
                    "key": o.key.encode() if o.key is not None else None,
                    "value": encode(o.event),
                    "traceparent": carrier.get("traceparent"),
                    "tracestate": carrier.get("tracestate"),
                }
            )
            self._next_row += 1
        self.outbox += rows
        return rows

    async def pending_for(self, source_event_ids: Sequence[str]) -> list[dict[str, Any]]:
        wanted = set(source_event_ids)
        return [row for row in self.outbox if row["source_event_id"] in wanted]

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before = copy.deepcopy(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.update(before)
            raise

    def sent(self) -> list[dict[str, Any]]:
        """The outbox's rows, as the broker would get them: for assertions."""
        return list(self.outbox)
