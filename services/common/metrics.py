"""Prometheus metrics shared by every service (one registry per process)."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "porgate_messages_total", "Messages consumed, by outcome.", ["service", "topic", "outcome"]
)
DEAD_LETTERS = Counter(
    "porgate_dead_letters_total", "Messages sent to the dead-letter topic.", ["service", "topic"]
)
RETRIES = Counter(
    "porgate_retries_total", "Transient failures retried with backoff.", ["service", "operation"]
)
PROCESSING = Histogram(
    "porgate_batch_processing_seconds",
    "Time from receiving a batch to the broker's acks of what it caused.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter(
    "porgate_decisions_total",
    "POR decisions, by outcome, basis and primary code.",
    ["outcome", "basis", "code"],
)
CONSUMER_LAG = Gauge(
    "porgate_consumer_lag",
    "Records behind the partition's end offset.",
    ["service", "topic", "partition"],
)
OUTBOX_PENDING = Gauge("porgate_outbox_unpublished", "Outbox rows not yet published.", ["service"])
HEALTH_CHECKS = Gauge(
    "porgate_health_check_ok",
    "1 if the check passed when /healthz or /readyz last ran it, else 0 (probes run them).",
    ["check"],
)
GRAPH_CALLS = Counter(
    "porgate_graph_calls_total",
    "HTTP calls to Microsoft Graph, by operation (token, terminate) and status (code, error).",
    ["operation", "status"],
)
PARTNER_CENTER_CALLS = Counter(
    "porgate_partner_center_calls_total",
    "HTTP calls to Partner Center, by distributor, operation and status (code, timeout, error).",
    ["distributor", "operation", "status"],
)
PARTNER_CENTER_LATENCY = Histogram(
    "porgate_partner_center_call_seconds",
    "Time of one HTTP call to Partner Center.",
    ["distributor", "operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PARTNER_CENTER_RETRIES = Counter(
    "porgate_partner_center_retries_total",
    "Partner Center calls repeated, by reason (throttled, server_error, timeout, error, token,"
    " unauthorized).",
    ["distributor", "operation", "reason"],
)
PARTNER_CENTER_BREAKER = Gauge(
    "porgate_partner_center_breaker_state",
    "A distributor's Partner Center circuit: 0 closed, 1 half-open, 2 open.",
    ["distributor"],
)
