"""gdap-revoker's Prometheus metrics: its terminations."""

from prometheus_client import Counter, Gauge

TERMINATIONS = Counter(
    "porgate_gdap_terminations_total",
    "GDAP termination outcomes: revoked (Graph confirmed), retried (an attempt failed),"
    " failed (out of attempts: a person must act).",
    ["outcome"],
)

FAILED = Gauge(
    "porgate_gdap_terminations_failed",
    "Terminations that failed for good and wait for `porgate gdap retry`: the reseller may"
    " still hold these privileges.",
)
