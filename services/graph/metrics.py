"""The Microsoft Graph client's Prometheus metrics."""

from prometheus_client import Counter

GRAPH_CALLS = Counter(
    "porgate_graph_calls_total",
    "HTTP calls to Microsoft Graph, by operation (token, terminate) and status (code, error).",
    ["operation", "status"],
)
