"""Prometheus metrics of the runtime every service shares (one registry per process); each
service's own are in its `metrics.py`."""

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
