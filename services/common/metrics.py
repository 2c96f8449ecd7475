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
WOULD_BLOCK = Counter(
    "porgate_would_block_total",
    "Transactions observe mode accepted that enforcement would have blocked, by primary code.",
    ["code"],
)
RELEASED = Counter(
    "porgate_released_total",
    "Blocked transactions released by a registry change, and those re-decided and still blocked.",
    ["result"],
)
CONSUMER_LAG = Gauge(
    "porgate_consumer_lag",
    "Records behind the partition's end offset.",
    ["service", "topic", "partition"],
)
OUTBOX_PENDING = Gauge("porgate_outbox_unpublished", "Outbox rows not yet published.", ["service"])
HELD = Counter(
    "porgate_batches_held_total",
    "Batches a consumer put back to fetch again, because what deciding needs is unreachable.",
    ["consumer"],
)
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
PARTNER_CENTER_CACHE = Counter(
    "porgate_partner_center_cache_total",
    "PLA ids looked up in por-validator's Partner Center cache, by result (hit, miss).",
    ["result"],
)
PARTNER_CENTER_DRIFT = Counter(
    "porgate_partner_center_drift_total",
    "Decision lines where Partner Center's answer and the registry disagree, by Partner"
    " Center's code (none: valid) and the registry's codes (comma-separated; none: valid).",
    ["partner_center_code", "registry_codes"],
)
PARTNER_CENTER_AUTHORITY = Counter(
    "porgate_partner_center_decisions_total",
    "Decisions made in partner-center mode, by authority (partner_center, registry,"
    " registry_fallback).",
    ["authority"],
)
PARTNER_CENTER_UNAVAILABLE = Gauge(
    "porgate_partner_center_unavailable",
    "1 while a distributor's Partner Center has been unreachable past the longest wait.",
    ["distributor"],
)
PARTNER_CENTER_PARKED = Gauge(
    "porgate_partner_center_parked_requests",
    "Validation requests parked until the distributor's Partner Center answers.",
    ["distributor"],
)
PARTNER_CENTER_SYNC_RUNS = Counter(
    "porgate_partner_center_sync_runs_total",
    "Syncs of a distributor's indirect resellers into the registry, by outcome (ok, failed).",
    ["distributor", "outcome"],
)
PARTNER_CENTER_SYNC_CHANGES = Counter(
    "porgate_partner_center_sync_changes_total",
    "Resellers whose registry facts a sync published, by kind (added, changed, removed).",
    ["distributor", "kind"],
)
PARTNER_CENTER_SYNC_LAST_SUCCESS = Gauge(
    "porgate_partner_center_sync_last_success_timestamp_seconds",
    "When a distributor's last successful sync finished (Unix time).",
    ["distributor"],
)
