"""Tracing on the real broker and PostgreSQL: one trace from an order's publish to the webhook
request (and from a suspension to the Graph call), with spans recorded in memory.

The convention (docs/tracing.md): W3C `traceparent` in the Kafka record headers; the
CloudEvents distributed-tracing extension is honoured on the way in; queued rows store it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence

import asyncpg
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from services.common import record_tracing, tracing
from services.graph import standin
from tests.e2e import registry_data as R
from tests.e2e.test_gdap import relationship, tenant
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, eventually, running

SERVICES = ["order-intake", "por-validator", "notifier"]
ORDERS, REQUESTS, DECISIONS = "csp.orders.v1", "por.validation-requests.v1", "por.decisions.v1"
REGISTRY, REVOCATIONS = "csp.partner-registry.v1", "gdap.revocations.v1"


def traceparent() -> tuple[str, str, str]:
    """A commerce system's publish span, as its OpenTelemetry SDK would send it."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    yield spans
    tracing.install(None)


@pytest.fixture
async def receiver():
    async with Receiver(SECRET) as r:
        yield r


def configured(settings, receiver: Receiver):
    return settings.model_copy(
        update={"notify_webhook_url": receiver.url, "notify_webhook_secret": SecretStr(SECRET)}
    )


async def load_registry(bus: Bus, settings) -> None:
    for e in R.registry_events():
        await bus.send(REGISTRY, e, key=R.key_of(e))
    conn = await asyncpg.connect(settings.database_url)
    try:

        async def loaded():
            return await conn.fetchval("SELECT count(*) FROM por_validator.partner_accounts") >= 8

        await eventually(loaded)
    finally:
        await conn.close()


class Trace:
    """The finished spans of one trace id."""

    def __init__(self, spans: Sequence[ReadableSpan], trace_id: str) -> None:
        self.all = spans
        self.spans = [s for s in spans if f"{s.context.trace_id:032x}" == trace_id]

    def one(self, name: str, **attributes) -> ReadableSpan:
        found = [
            s
            for s in self.spans
            if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]
        assert len(found) == 1, (name, attributes, [(s.name, dict(s.attributes)) for s in found])
        return found[0]


def span_id(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def parent_of(child: ReadableSpan) -> str | None:
    return f"{child.parent.span_id:016x}" if child.parent is not None else None


def trace_header(record) -> str | None:
    values = [v.decode() for k, v in record.headers or () if k == "traceparent"]
    return values[0] if values else None


async def test_one_trace_runs_from_an_orders_publish_to_the_webhook_request(
    migrated, receiver, exporter
):
    settings = configured(migrated, receiver)
    header, trace_id, commerce_span = traceparent()
    # A producer speaking CloudEvents rather than Kafka: the envelope's extension attribute.
    extension, extension_trace, extension_span = traceparent()
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus, settings)
        await bus.send(
            ORDERS,
            R.order("ord-traced", R.INACTIVE_PLA),
            key="ord-traced",
            headers={"traceparent": header},
        )
        await bus.send(
            ORDERS,
            {**R.order("ord-extension", R.VALID), "traceparent": extension},
            key="ord-extension",
        )
        await eventually(
            lambda: asyncio.sleep(0, receiver.of_kind("transaction_blocked")), timeout=30
        )
        decisions = await bus.read(DECISIONS, lambda rs: len(rs) >= 2)
    tracing.flush()
    t = Trace(exporter.get_finished_spans(), trace_id)

    intake = t.one("process csp.orders.v1", **{"porgate.consumer": "order-intake:orders"})
    assert parent_of(intake) == commerce_span
    request_sent = t.one(f"send {REQUESTS}")
    assert parent_of(request_sent) == span_id(intake)
    validation = t.one(f"process {REQUESTS}")
    assert parent_of(validation) == span_id(request_sent)
    decision_sent = t.one(f"send {DECISIONS}")
    assert parent_of(decision_sent) == span_id(validation)
    notified = t.one(f"process {DECISIONS}", **{"porgate.consumer": "notifier:decisions"})
    assert parent_of(notified) == span_id(decision_sent)
    delivery = t.one("deliver notification")
    assert parent_of(delivery) == span_id(notified)
    post = t.one("POST")
    assert parent_of(post) == span_id(delivery)
    assert post.attributes["http.response.status_code"] == 204

    # The webhook request carried this trace, with the request's span as its parent.
    [request] = [r for r in receiver.requests if r["headers"].get("traceparent")]
    assert request["headers"]["traceparent"] == f"00-{trace_id}-{span_id(post)}-01"
    # Each batch is a trace of its own that links to the traces of its records, and each
    # event's span links back to its batch.
    batches = {span_id(s): s for s in t.all if s.name.startswith("process") and not s.parent}
    intake_batch = batches[f"{intake.links[0].context.span_id:016x}"]
    assert commerce_span in {f"{link.context.span_id:016x}" for link in intake_batch.links}
    assert intake_batch.attributes["messaging.batch.message_count"] >= 1

    # The decisions on the topic carry their trace in the record headers, for any Kafka tool.
    by_order = {json.loads(r.value)["data"]["orderId"]: r for r in decisions}
    assert trace_header(by_order["ord-traced"]) == f"00-{trace_id}-{span_id(decision_sent)}-01"
    assert trace_header(by_order["ord-extension"]).split("-")[1] == extension_trace
    # The envelope's distributed-tracing extension started the other order's trace.
    other = Trace(exporter.get_finished_spans(), extension_trace)
    assert parent_of(other.one("process csp.orders.v1")) == extension_span


async def test_a_suspensions_trace_runs_through_the_graph_calls_to_the_revocation(
    migrated, exporter
):
    # The global Graph app of PORGATE_GRAPH_*: a tenant "tenant" at the stand-in.
    graph = standin.GraphStandin(
        {"tenant": standin.GraphTenant("client-1", "secret-1")}, reads_to_settle=1
    )
    graph.tenants["tenant"].add(standin.relationship_json("rel-t", "cust-1"))
    header, trace_id, commerce_span = traceparent()
    async with standin.serving(graph) as base:
        settings = migrated.model_copy(
            update={
                "gdap_gateway": "graph",
                "graph_base_url": base,
                "graph_token_url": f"{base}/tenant/oauth2/v2.0/token",
                "graph_client_id": "client-1",
                "graph_client_secret": SecretStr("secret-1"),
                "graph_poll_initial_s": 0.05,
            }
        )
        async with Bus(settings) as bus, running(settings, ["gdap-revoker"]):
            for e in (tenant("ten-t"), relationship("rel-t", "cust-1", "ten-t")):
                await bus.send(REGISTRY, e, key="ten-t")
            await bus.send(
                REGISTRY, tenant("ten-t", "suspended"), key="ten-t", headers={"traceparent": header}
            )
            [revocation] = await bus.read(REVOCATIONS, lambda rs: len(rs) >= 1)
    tracing.flush()
    t = Trace(exporter.get_finished_spans(), trace_id)

    processed = t.one(f"process {REGISTRY}", **{"porgate.consumer": "gdap-revoker:registry"})
    assert parent_of(processed) == commerce_span
    # The read and the request, then the read back of the request that confirmed it: each a
    # span of the trace of the suspension, under the event's processing.
    acting, confirming = sorted(
        (s for s in t.spans if s.name == "terminate GDAP relationship"), key=lambda s: s.start_time
    )
    assert parent_of(acting) == parent_of(confirming) == span_id(processed)
    calls = sorted((s for s in t.spans if s.name in ("GET", "POST")), key=lambda s: s.start_time)
    assert [(s.name, parent_of(s), s.attributes["http.response.status_code"]) for s in calls] == [
        ("POST", span_id(acting), 200),  # token
        ("GET", span_id(acting), 200),  # the relationship, live
        ("POST", span_id(acting), 201),  # terminate
        ("GET", span_id(confirming), 200),  # the request: succeeded
    ]
    assert [headers.get("traceparent") for _, headers in graph.received] == [
        f"00-{trace_id}-{span_id(s)}-01" for s in calls
    ]
    sent = t.one(f"send {REVOCATIONS}")
    assert parent_of(sent) == span_id(confirming)
    assert trace_header(revocation) == f"00-{trace_id}-{span_id(sent)}-01"


async def test_with_tracing_off_no_span_is_made_and_nothing_carries_a_trace(
    migrated, receiver, monkeypatch
):
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    tracing.install(None)
    started: list[str] = []
    # Every place a span could be started: none may be reached while tracing is off.
    monkeypatch.setattr(record_tracing, "batch", lambda *a, **k: started.append("batch"))
    monkeypatch.setattr(record_tracing, "sending", lambda *a, **k: started.append("send"))
    monkeypatch.setattr(tracing, "_span", lambda *a, **k: started.append("span"))
    settings = configured(migrated, receiver)
    header, _, _ = traceparent()
    async with Bus(settings) as bus, running(settings, SERVICES):
        assert not tracing.enabled()
        await load_registry(bus, settings)
        await bus.send(
            ORDERS,
            R.order("ord-untraced", R.INACTIVE_PLA),
            key="ord-untraced",
            headers={"traceparent": header},
        )
        await eventually(
            lambda: asyncio.sleep(0, receiver.of_kind("transaction_blocked")), timeout=30
        )
        requests = await bus.read(REQUESTS, lambda rs: len(rs) >= 1)
        decisions = await bus.read(DECISIONS, lambda rs: len(rs) >= 1)
    assert started == []
    assert [trace_header(r) for r in requests + decisions] == [None, None]
    assert all("traceparent" not in r["headers"] for r in receiver.requests)
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM notifier.notifications WHERE traceparent IS NOT NULL"
            )
            == 0
        )
    finally:
        await conn.close()
