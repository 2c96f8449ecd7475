"""The HTTP API's Prometheus metrics: its requests, and Partner Center's webhook events."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "porgate_api_requests_total", "API requests, by route and status.", ["route", "status"]
)

LATENCY = Histogram(
    "porgate_api_request_seconds",
    "API request latency.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)

RECEIVED = Counter(
    "porgate_partner_center_events_total",
    "Partner Center webhook requests, by event and outcome: queued (porgate reads what it"
    " names), ignored (counted and logged only), duplicate (a redelivery: no effect),"
    " rejected (401/413/400: nothing recorded).",
    ["event", "outcome"],
)
