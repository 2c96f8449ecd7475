"""por-validator's Prometheus metrics: decisions, releases, and Partner Center as the
authority (its cache, drift from the registry, outages)."""

from prometheus_client import Counter, Gauge

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
