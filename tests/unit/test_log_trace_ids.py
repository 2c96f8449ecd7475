"""Log lines written inside a span carry its trace_id and span_id, so a log search finds the
trace and a trace view finds the lines."""

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from services.common import tracing
from services.common.logs import configure_logging


@pytest.fixture
def json_lines(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", json=True)
    yield lambda: [json.loads(line) for line in stream.getvalue().strip().splitlines()]
    logging.getLogger().handlers.clear()


@pytest.fixture
def tracing_on():
    tracing.install(TracerProvider())
    yield
    tracing.install(None)


def test_a_line_logged_in_a_span_carries_its_trace_and_span_ids(json_lines, tracing_on):
    with tracing.tracer().start_as_current_span("work") as span:
        logging.getLogger("porgate.test").info("inside")
    logging.getLogger("porgate.test").info("outside")
    inside, outside = json_lines()
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in outside and "span_id" not in outside


def test_without_tracing_lines_carry_no_ids(json_lines):
    logging.getLogger("porgate.test").info("untraced")
    (line,) = json_lines()
    assert "trace_id" not in line and "span_id" not in line


def test_ids_a_caller_passed_explicitly_are_kept(json_lines, tracing_on):
    with tracing.tracer().start_as_current_span("work"):
        logging.getLogger("porgate.test").info("x", extra={"trace_id": "given"})
    (line,) = json_lines()
    assert line["trace_id"] == "given"
