"""The tracing switch and the trace context a record carries, without I/O."""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.codec import decode
from services.common import tracing
from tests.support import envelope

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
PARENT = f"00-{TRACE}-{SPAN}-01"


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": ""}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": " OTLP , console "}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, ["otlp"]),
        # An endpoint alone does not turn tracing on: the exporter must be named.
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, []),
    ],
)
def test_tracing_is_on_only_when_an_exporter_is_named_and_the_sdk_not_disabled(env, exporters):
    assert tracing.requested_exporters(env) == exporters


def test_an_unknown_exporter_is_refused_at_start():
    with pytest.raises(ValueError, match="zipkin"):
        tracing.requested_exporters({"OTEL_TRACES_EXPORTER": "otlp,zipkin"})


def _span_context(context):
    return trace.get_current_span(context).get_span_context()


def test_a_records_traceparent_header_is_its_context():
    context = tracing.record_context([("other", b"x"), ("traceparent", PARENT.encode())])
    assert context is not None
    assert (
        f"{_span_context(context).trace_id:032x}",
        f"{_span_context(context).span_id:016x}",
    ) == (
        TRACE,
        SPAN,
    )
    assert _span_context(context).is_remote


def test_the_cloudevents_extension_counts_when_the_record_has_no_header():
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    event = decode(
        json.dumps({**envelope("csp.order.placed.v1", _order()), "traceparent": other}).encode()
    )
    from_envelope = tracing.record_context([], event)
    assert f"{_span_context(from_envelope).trace_id:032x}" == "1" * 32
    # The header wins over the envelope.
    from_header = tracing.record_context([("traceparent", PARENT.encode())], event)
    assert f"{_span_context(from_header).trace_id:032x}" == TRACE


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("traceparent", b"not a traceparent")],
        [("traceparent", b"00-00000000000000000000000000000000-b7ad6b7169203331-01")],
        [("tracestate", b"vendor=1")],
    ],
)
def test_no_or_a_broken_traceparent_starts_a_new_trace(headers):
    assert tracing.record_context(headers) is None


def test_with_tracing_off_nothing_is_propagated():
    tracing.install(None)
    headers: dict[str, str] = {}
    tracing.inject(headers)
    assert headers == {}
    assert tracing.current_traceparent() is None
    assert tracing.carrier_of() == {}
    with tracing.worked("w", PARENT, {}) as span, tracing.http_call("POST", "http://h/") as call:
        assert span is None and call is None


def test_work_on_a_queued_row_continues_the_stored_trace_and_its_http_call_carries_it():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        with tracing.worked("deliver", PARENT, {"k": "v"}) as work:
            with tracing.http_call("POST", "https://user:pw@hooks.example/p?q=secret") as call:
                headers: dict[str, str] = {}
                tracing.inject(headers)
                tracing.http_status(call, 503)
            stored = tracing.current_traceparent()
    finally:
        tracing.install(None)
    assert work is not None and call is not None
    post, deliver = exporter.get_finished_spans()
    assert f"{deliver.parent.span_id:016x}" == SPAN
    assert deliver.parent.trace_id == post.context.trace_id == int(TRACE, 16)
    assert post.parent.span_id == deliver.context.span_id
    assert headers["traceparent"] == f"00-{TRACE}-{post.context.span_id:016x}-01"
    assert stored == f"00-{TRACE}-{deliver.context.span_id:016x}-01"
    # No credentials or query string in a span.
    assert post.attributes["url.full"] == "https://hooks.example/p"
    assert post.attributes["http.response.status_code"] == 503
    assert not post.status.is_ok


def _order() -> dict:
    return {
        "orderId": "o-1",
        "distributorId": "d-1",
        "customerId": "c-1",
        "placedAt": "2026-01-10T09:00:00Z",
        "lineItems": [
            {
                "lineItemId": "1",
                "offerId": "X",
                "quantity": 1,
                "billingPlan": "monthly",
                "termDuration": "P1Y",
            }
        ],
    }
