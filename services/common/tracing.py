"""OpenTelemetry tracing across the pipeline: off unless the standard `OTEL_*` variables turn
it on, and free when off (no span, no header, nothing created per event).

The convention (docs/tracing.md): W3C Trace Context in the Kafka record headers
`traceparent` and `tracestate`, as OpenTelemetry's Kafka instrumentations carry it. Headers,
not the envelope: a decision's event id derives from its cause, and the inbox tells a true
redelivery from a reused id by the body's hash, so a body that changed with each trace would
turn an honest re-send into a "reused id" dead letter; headers also leave every stored,
replayed or dead-lettered body byte for byte what it was. On the way in, an envelope that
carries the CloudEvents distributed-tracing extension (`traceparent` as an attribute) is
honoured when the record has no header, for producers that speak CloudEvents rather than Kafka.

Where work is queued (the outbox, the notifier's notifications, gdap-revoker's terminations),
the `traceparent` is stored with the row, so the trace goes on when the row is worked later,
possibly by another process after a crash.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    # The SDK and its exporters are imported only when tracing is turned on.
    from opentelemetry.sdk.trace import TracerProvider

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# The exporters `OTEL_TRACES_EXPORTER` may name; any other value is refused at start.
EXPORTERS = ("otlp", "console")

# None while tracing is off: every entry point below checks this first and does nothing.
_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_NOTHING: contextlib.nullcontext[None] = contextlib.nullcontext()
# The spans of the batch a pipeline is applying, by the identity of each event object, so
# that `event_scope` can make an event's span current around the work done for it.
_batch_spans: ContextVar[Mapping[int, Span] | None] = ContextVar("porgate_batch", default=None)


def enabled() -> bool:
    return _tracer is not None


def requested_exporters(env: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters the environment asks for; empty means tracing stays off.

    Off by default, unlike the SDK's own default of `otlp`: a process must not try to reach
    a collector nobody set up. `OTEL_SDK_DISABLED=true` wins over everything.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n and n != "none"]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter(s) {', '.join(unknown)}")
    return names


def configure_from_env(default_service_name: str) -> bool:
    """Turn tracing on if the environment asks for it (once per process); whether it is on.

    The SDK reads the rest itself: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
    `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_ENDPOINT` and the other `OTEL_EXPORTER_OTLP_*`.
    """
    if _provider is not None:
        return True
    exporters = requested_exporters()
    if not exporters:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    # Resource.create lets OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override this.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: default_service_name}))
    for name in exporters:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    install(provider)
    return True


def install(provider: TracerProvider | None) -> None:
    """Trace with this provider from now on (None: tracing off). Tests install one with an
    in-memory exporter."""
    global _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("porgate") if provider is not None else None


def flush() -> None:
    if _provider is not None:
        _provider.force_flush()


# ------------------------------------------------------------------ propagation


# W3C Trace Context only, whatever OTEL_PROPAGATORS says: it is the documented convention on
# porgate's records and rows, not a per-deployment choice.
_PROPAGATOR = TraceContextTextMapPropagator()


def _context_of(carrier: Mapping[str, str]) -> Context | None:
    if TRACEPARENT not in carrier:
        return None
    context = _PROPAGATOR.extract(carrier)
    # An unparsable traceparent extracts to an empty context: start a new trace instead.
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def record_context(headers: Sequence[tuple[str, bytes]], event: Any = None) -> Context | None:
    """The trace context a record carries: its headers, else the envelope's distributed-tracing
    extension attributes."""
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        if key in (TRACEPARENT, TRACESTATE) and value is not None:
            carrier[key] = value.decode("latin-1")
    if TRACEPARENT not in carrier and event is not None:
        extra = getattr(event, "__pydantic_extra__", None) or {}
        if isinstance(extra.get(TRACEPARENT), str):
            carrier[TRACEPARENT] = extra[TRACEPARENT]
            if isinstance(extra.get(TRACESTATE), str):
                carrier[TRACESTATE] = extra[TRACESTATE]
    return _context_of(carrier)


def stored_context(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The context a queued row stored (`carrier_of`), for the span of the work done for it."""
    if traceparent is None:
        return None
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    return _context_of(carrier)


def carrier_of(span: Span | None = None) -> dict[str, str]:
    """{traceparent, tracestate} of `span` (default: the current span); empty when tracing is
    off or there is no span."""
    if _tracer is None:
        return {}
    carrier: dict[str, str] = {}
    context = trace.set_span_in_context(span) if span is not None else None
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def current_traceparent() -> str | None:
    """The current span's traceparent, to store with a queued row; None when tracing is off."""
    if _tracer is None:
        return None
    return carrier_of().get(TRACEPARENT)


def inject(headers: dict[str, str]) -> None:
    """Add the current span's `traceparent` (and `tracestate`) to an HTTP request's headers."""
    if _tracer is not None:
        headers.update(carrier_of())


# ------------------------------------------------------------------ spans


def tracer() -> Tracer:
    assert _tracer is not None, "tracing is off"
    return _tracer


@contextlib.contextmanager
def _span(
    name: str, parent: Context | None, kind: Any, attributes: Mapping[str, Any]
) -> Iterator[Span]:
    with tracer().start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes, record_exception=False
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise


def worked(
    name: str, traceparent: str | None, attributes: Mapping[str, Any]
) -> contextlib.AbstractContextManager[Span | None]:
    """A span, current while the body runs, for work on a queued row (a notification, a
    termination), child of the context the row stored; nothing when tracing is off."""
    if _tracer is None:
        return _NOTHING
    return _span(name, stored_context(traceparent), SpanKind.INTERNAL, attributes)


def http_call(
    method: str, url: str, tags: Mapping[str, Any] | None = None
) -> contextlib.AbstractContextManager[Span | None]:
    """A client span for one HTTP request (with `tags` as attributes), current while it runs,
    so `inject` gives the receiver this span as the parent; nothing when tracing is off."""
    if _tracer is None:
        return _NOTHING
    parts = urlsplit(url)
    attributes = {
        "http.request.method": method,
        # Without credentials, query or fragment: a span is no place for secrets.
        "url.full": f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
        f"{parts.path}",
        "server.address": parts.hostname or "",
        **(tags or {}),
    }
    return _span(method, None, SpanKind.CLIENT, attributes)


def http_server(
    method: str, path: str, headers: Mapping[str, str]
) -> contextlib.AbstractContextManager[Span | None]:
    """A server span for one HTTP request, child of the caller's `traceparent` if it sent
    one, current while the request is served; nothing when tracing is off. Named by the
    method until the route is known (`http_route`)."""
    if _tracer is None:
        return _NOTHING
    carrier = {k: headers[k] for k in (TRACEPARENT, TRACESTATE) if k in headers}
    attributes = {"http.request.method": method, "url.path": path}
    return _span(method, _context_of(carrier), SpanKind.SERVER, attributes)


def http_route(span: Span | None, method: str, route: str) -> None:
    if span is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def http_server_status(span: Span | None, status: int) -> None:
    """A server answers a 4xx as asked: only a 5xx is an error of its span."""
    if span is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def http_status(span: Span | None, status: int) -> None:
    if span is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))


def event_scope(event: Any) -> contextlib.AbstractContextManager[Any]:
    """Makes the event's processing span current while its handler runs, so what the handler
    queues (a notification, a termination) stores this trace; nothing when tracing is off."""
    if _tracer is None:
        return _NOTHING
    spans = _batch_spans.get()
    span = spans.get(id(event)) if spans is not None else None
    if span is None:
        return _NOTHING
    return trace.use_span(span, end_on_exit=False)


@contextlib.contextmanager
def applying(spans: Mapping[int, Span] | None) -> Iterator[None]:
    """The batch's event spans, for `event_scope`, while the pipeline applies it."""
    if spans is None:
        yield
        return
    token = _batch_spans.set(spans)
    try:
        yield
    finally:
        _batch_spans.reset(token)
