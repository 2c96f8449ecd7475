"""The notifier's Prometheus metrics: its webhook deliveries."""

from prometheus_client import Counter, Gauge

DELIVERIES = Counter(
    "porgate_notification_deliveries_total",
    "Webhook delivery attempts, by result (delivered, retry, throttled, failed, endpoint_gone).",
    ["result"],
)

ENDPOINT_DISABLED = Gauge(
    "porgate_notification_endpoints_disabled",
    "Webhook endpoints this notifier delivers to that answered 410 Gone and are disabled"
    " until `porgate notifications enable`.",
)
