"""The Partner Center client's Prometheus metrics: calls, their latency, retries, the breaker."""

from prometheus_client import Counter, Gauge, Histogram

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
