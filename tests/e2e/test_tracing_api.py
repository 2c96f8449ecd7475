"""The API's server spans: each request is a SERVER span, child of the caller's traceparent,
named by its route, with its status; and the span's ids are on the request's log lines."""

from __future__ import annotations

import secrets

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.common import tracing
from tests.e2e import registry_data as R
from tests.support import api_client

KEY = "k-tracing-0123456789abcdef"


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    yield spans
    tracing.install(None)


def server_spans(exporter) -> list:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


async def test_each_api_request_is_a_server_span_child_of_the_callers_trace(migrated, exporter):
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    async with api_client(migrated, f"{KEY}={R.DIST}") as client:
        answered = await client.post(
            "/v1/partners/validateresellers",
            json={"partnerIds": [R.VALID]},
            headers={
                "Authorization": f"Bearer {KEY}",
                "traceparent": f"00-{trace_id}-{parent}-01",
                "MS-CorrelationId": "corr-1",
            },
        )
        assert answered.status_code == 200
        missing = await client.get("/v1/nowhere")
        assert missing.status_code == 404
    validate, not_found = server_spans(exporter)
    assert validate.name == "POST /v1/partners/validateresellers"
    assert f"{validate.context.trace_id:032x}" == trace_id
    assert f"{validate.parent.span_id:016x}" == parent
    attributes = dict(validate.attributes)
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.route"] == "/v1/partners/validateresellers"
    assert attributes["http.response.status_code"] == 200
    assert attributes["porgate.correlation_id"] == "corr-1"
    assert validate.status.status_code is StatusCode.UNSET
    # No route matched: named by the method alone, a 404 is no server error.
    assert not_found.name == "GET"
    assert dict(not_found.attributes)["http.response.status_code"] == 404
    assert not_found.status.status_code is StatusCode.UNSET
    assert not_found.parent is None


async def test_with_tracing_off_the_api_answers_without_spans(migrated):
    assert not tracing.enabled()
    async with api_client(migrated, f"{KEY}={R.DIST}") as client:
        answered = await client.post(
            "/v1/partners/validateresellers",
            json={"partnerIds": [R.VALID]},
            headers={"Authorization": f"Bearer {KEY}", "traceparent": "00-not-a-trace-01"},
        )
    assert answered.status_code == 200
