"""partner-center-sync's Prometheus metrics: the reseller sync, the GDAP sync, and Partner
Center's events it acts on."""

from prometheus_client import Counter, Gauge

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

GDAP_SYNC_RUNS = Counter(
    "porgate_gdap_sync_runs_total",
    "GDAP syncs of a distributor's Graph list (and webhook refreshes), by outcome.",
    ["distributor", "outcome"],
)

GDAP_SYNC_CHANGES = Counter(
    "porgate_gdap_sync_changes_total",
    "GDAP relationships published by the sync: added, changed, removed (absent from the list).",
    ["distributor", "kind"],
)

GDAP_SYNC_SKIPPED = Gauge(
    "porgate_gdap_sync_unresolved",
    "Relationships created for a reseller that the last GDAP sync could not attribute to one"
    " (Partner Center named none, or several): not in the registry, so no suspension revokes them.",
    ["distributor"],
)

GDAP_SYNC_LAST_SUCCESS = Gauge(
    "porgate_gdap_sync_last_success_timestamp_seconds",
    "When a distributor's GDAP list was last synced completely.",
    ["distributor"],
)

PROCESSED = Counter(
    "porgate_partner_center_events_processed_total",
    "Partner Center events acted on by partner-center-sync: done, retried (a read failed),"
    " failed (out of attempts, or naming nothing porgate can read).",
    ["event", "outcome"],
)
