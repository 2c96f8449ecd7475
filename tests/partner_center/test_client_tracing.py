"""Each Partner Center call is a CLIENT span, child of the work that made it, and carries its
traceparent, its MS-RequestId and MS-CorrelationId and Partner Center's answer."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.common import tracing
from services.partner_center.standin import VALIDATE


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    yield spans
    tracing.install(None)


def client_spans(exporter) -> list:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]


async def test_a_validation_call_is_a_client_span_under_the_callers_span(
    make_client, standin, exporter
):
    client = make_client()
    with tracing.tracer().start_as_current_span("decide") as work:
        await client.validate_resellers("dist-a", ["1111"])
    (call,) = client_spans(exporter)
    assert call.name == "POST"
    assert call.parent.span_id == work.get_span_context().span_id
    attributes = dict(call.attributes)
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.full"].endswith("/v1/partners/validateresellers")
    assert attributes["porgate.operation"] == "validate_resellers"
    assert attributes["porgate.distributor_id"] == "dist-a"
    (received,) = standin.calls_to(VALIDATE)
    assert received.headers["traceparent"].split("-")[2] == f"{call.context.span_id:016x}"
    assert attributes["porgate.request_id"] == received.headers["ms-requestid"]
    assert attributes["porgate.correlation_id"] == received.headers["ms-correlationid"]


async def test_a_failed_call_and_its_retry_are_two_spans_the_first_an_error(
    make_client, standin, exporter
):
    standin.fail(calls=1)
    await make_client().validate_resellers("dist-a", ["1111"])
    failed, retried = client_spans(exporter)
    assert dict(failed.attributes)["http.response.status_code"] == 500
    assert failed.status.status_code is StatusCode.ERROR
    assert retried.status.status_code is StatusCode.UNSET
    # One request: the same MS-RequestId on both attempts, as Partner Center asks.
    assert (
        dict(failed.attributes)["porgate.request_id"]
        == dict(retried.attributes)["porgate.request_id"]
    )
