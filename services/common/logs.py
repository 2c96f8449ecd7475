"""Structured JSON logs: one object per line, with event and decision ids where known."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

# The ids of the request being served (the API's MS-CorrelationId and MS-RequestId): every
# line logged while serving it carries them, as Microsoft's support asks for them.
request_ids: ContextVar[Mapping[str, str] | None] = ContextVar("porgate_request_ids", default=None)


class RequestIdsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (request_ids.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TraceIdsFilter(logging.Filter):
    """trace_id and span_id of the span current when the line is written (W3C hex, as in
    `traceparent`), so that a log search finds the trace and a trace view finds the lines.
    Nothing while tracing is off: there is never a current span then."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        return True


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RequestIdsFilter())
    handler.addFilter(TraceIdsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance step at INFO; keep its warnings.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # One access line per batch is noise at INFO; keep it for DEBUG.
    logging.getLogger("porgate.faststream").setLevel(
        logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    )
