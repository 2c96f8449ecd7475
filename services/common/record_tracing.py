"""The spans of Kafka records: a consumer's batches and events, and the outbox's sends.

A batch holds records of many traces, so (OpenTelemetry's messaging conventions for batch
consumers) the batch gets a span of its own, a new trace linking to every record's context,
and each decoded event a `process` span, the child of its record's context and current
while its handler runs. What the event emits is stored in the outbox with that span's
context; when the row is sent, a `send` span, its child, goes in the record's headers. So
one trace runs from an order's publish through every service that handles it, however long
the outbox holds a row and whichever process sends it.

faststream's KafkaTelemetryMiddleware is not used: porgate sends through the outbox with
aiokafka, never through faststream's publishers, so its publish side would never run and
no context would survive the outbox; for a batch it makes one span with links, no span per
record to parent what each record causes; and its span ends when the subscriber returns,
while the batch's publish and offset commit come after.

Everything here is entered only while tracing is on (`tracing.enabled()`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from services.common import tracing
from services.common.handling import Held
from services.common.kafka import Headers, contract_topic

MESSAGING = {"messaging.system": "kafka"}


def _error(span: Span, exc: BaseException) -> None:
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


@contextlib.contextmanager
def batch(
    consumer: str,
    group_id: str,
    prefix: str,
    records: Sequence[ConsumerRecord],
    items: Sequence[tuple[ConsumerRecord, Any]],
) -> Iterator[None]:
    """Spans for a batch and its decoded events (`items`), ended when the body returns, with
    the event spans current for `tracing.event_scope` inside it."""
    tracer = tracing.tracer()
    topics = sorted({contract_topic(prefix, r.topic) for r in records})
    contexts = [tracing.record_context(r.headers, event) for r, event in items]
    # A new trace of its own (an empty parent context), linked to the traces it serves. The
    # SDK keeps the first 128 links (OTEL_SPAN_LINK_COUNT_LIMIT); every event span links back.
    batch_span = tracer.start_span(
        f"process {' '.join(topics)}",
        context=Context(),
        kind=SpanKind.CONSUMER,
        links=[Link(trace.get_current_span(c).get_span_context()) for c in contexts if c],
        attributes={
            **MESSAGING,
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": group_id,
            "messaging.batch.message_count": len(records),
            "porgate.consumer": consumer,
            "porgate.dead_letters": len(records) - len(items),
        },
    )
    back = [Link(batch_span.get_span_context())]
    spans: dict[int, Span] = {}
    for (record, event), context in zip(items, contexts, strict=True):
        topic = contract_topic(prefix, record.topic)
        spans[id(event)] = tracer.start_span(
            f"process {topic}",
            context=context or Context(),
            kind=SpanKind.CONSUMER,
            links=back,
            attributes={
                **MESSAGING,
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": group_id,
                "messaging.message.id": event.id,
                "cloudevents.event_id": event.id,
                "cloudevents.event_type": event.type,
                "cloudevents.event_source": event.source,
                "porgate.consumer": consumer,
            },
        )
    try:
        with tracing.applying(spans):
            yield
    except Held:
        raise  # fetched again by the next poll: waiting, not failing (no error span every poll)
    except BaseException as exc:
        for span in (batch_span, *spans.values()):
            _error(span, exc)
        raise
    finally:
        for span in spans.values():
            span.end()
        batch_span.end()


def mark_duplicates(events: Sequence[Any]) -> None:
    """Events the inbox had seen: their spans say so (they have no effect)."""
    for event in events:
        with tracing.event_scope(event):
            trace.get_current_span().set_attribute("porgate.inbox", "duplicate")


def carriers_for(events: Sequence[Any]) -> list[dict[str, str]]:
    """For each event, the context to store with an outbox row it caused: its span's."""
    known: dict[int, dict[str, str]] = {}
    out: list[dict[str, str]] = []
    for event in events:
        if id(event) not in known:
            with tracing.event_scope(event):
                known[id(event)] = tracing.carrier_of()
        out.append(known[id(event)])
    return out


def sending(
    rows: Sequence[Any], prefix: str, content_type: Headers
) -> tuple[list[Headers], list[Span]]:
    """A `send` span for each outbox row, the child of the context stored with it, and the
    headers that carry that span to the consumers: end the spans with `sent`."""
    tracer = tracing.tracer()
    headers: list[Headers] = []
    spans: list[Span] = []
    for row in rows:
        span = tracer.start_span(
            f"send {row['topic']}",
            context=tracing.stored_context(row["traceparent"], row["tracestate"]) or Context(),
            kind=SpanKind.PRODUCER,
            attributes={
                **MESSAGING,
                "messaging.operation.type": "send",
                "messaging.destination.name": prefix + row["topic"],
                "porgate.source_event_id": row["source_event_id"],
            },
        )
        if row["id"] is not None:  # sent straight away, with no outbox row: outbox.unsaved
            span.set_attribute("porgate.outbox_id", row["id"])
        spans.append(span)
        carrier = tracing.carrier_of(span)
        headers.append(content_type + [(k, v.encode()) for k, v in carrier.items()])
    return headers, spans


def sent(spans: Sequence[Span], outcome: Sequence[str | None] | BaseException) -> None:
    for i, span in enumerate(spans):
        if isinstance(outcome, BaseException):
            _error(span, outcome)
        elif outcome[i] is not None:
            span.set_status(Status(StatusCode.ERROR, outcome[i]))
        span.end()
