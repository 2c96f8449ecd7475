"""Dead letters: a message that can never be processed goes to `por.dlq.v1` with the
contract's `x-dlq-*` headers saying where it came from and why, and the consumer moves on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord

from contracts.topics import DLQ
from services.common import metrics
from services.common.kafka import Headers, contract_topic, send_all, text_headers
from services.common.retry import Retrier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetters:
    service: str
    producer: AIOKafkaProducer
    retrying: Retrier
    topic_prefix: str = ""

    async def send(self, group_id: str, items: Sequence[tuple[ConsumerRecord, str]]) -> None:
        """Dead-letter (record, reason) pairs consumed by `group_id`."""
        if not items:
            return
        failed_at = datetime.now(UTC).isoformat()

        def headers(record: ConsumerRecord, reason: str, *extra: tuple[str, str]) -> Headers:
            return list(record.headers or ()) + text_headers(
                ("x-dlq-source-topic", contract_topic(self.topic_prefix, record.topic)),
                ("x-dlq-source-partition", str(record.partition)),
                ("x-dlq-source-offset", str(record.offset)),
                ("x-dlq-consumer-group", group_id),
                ("x-dlq-error", reason[:1000]),
                ("x-dlq-failed-at", failed_at),
                *extra,
            )

        dlq = self.topic_prefix + DLQ.name
        letters = [(dlq, r.key, r.value, headers(r, reason)) for r, reason in items]
        outcome = await self.retrying("dead-letter", lambda: send_all(self.producer, letters))
        too_big = [
            (r, reason, refusal)
            for (r, reason), refusal in zip(items, outcome, strict=True)
            if refusal
        ]
        if too_big:
            # The original cannot be copied (over the broker's size limit): the dead letter
            # keeps its coordinates and reason, so on-call can read it from the source topic.
            omitted = [
                (
                    dlq,
                    r.key,
                    None,
                    headers(
                        r,
                        reason,
                        ("x-dlq-value-omitted", f"{len(r.value or b'')} bytes: {refusal}"),
                    ),
                )
                for r, reason, refusal in too_big
            ]
            await self.retrying("dead-letter", lambda: send_all(self.producer, omitted))
        for record, reason in items:
            topic = contract_topic(self.topic_prefix, record.topic)
            metrics.DEAD_LETTERS.labels(self.service, topic).inc()
            log.warning(
                "message dead-lettered",
                extra={
                    "service": self.service,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason": reason,
                },
            )
