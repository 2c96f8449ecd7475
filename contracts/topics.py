"""Every topic and every event type, in one place.

`porgate topics`, the compose job, the Kubernetes job, the consumers and the decoders all
read this module, so a topic's name, key and settings are written down exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from contracts import events as ev

DAY_MS = 24 * 60 * 60 * 1000
# The largest record batch a topic takes, and so the largest message porgate sends: 2 MiB,
# twice Kafka's default, as a decision listing every line's codes can be large.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
# Replicas that must have a write before it is acknowledged (acks=all): with 3 replicas, one
# broker may be down and no acknowledged record is lost. With fewer replicas, one fewer
# than there are (at least 1), so that one broker down never stops the writes.
MIN_INSYNC_REPLICAS = 2


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    event_types: tuple[str, ...]
    partitions: int = 6
    # Compaction fits topics of upserts keyed by entity id: the latest state per key is
    # all a new consumer needs, and replaying it is harmless.
    compacted: bool = False
    retention_ms: int = 14 * DAY_MS
    description: str = ""
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self, replication_factor: int = 1) -> dict[str, str]:
        """The topic's configuration on a cluster keeping `replication_factor` replicas."""
        cfg = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "max.message.bytes": str(MAX_MESSAGE_BYTES),
            "min.insync.replicas": str(max(1, min(MIN_INSYNC_REPLICAS, replication_factor - 1))),
        }
        if not self.compacted:
            cfg["retention.ms"] = str(self.retention_ms)
        cfg.update(self.extra_config)
        return cfg


ORDERS = Topic(
    "csp.orders.v1",
    "orderId",
    ("csp.order.placed.v1",),
    description="Orders placed by upstream commerce.",
)
SUBSCRIPTION_CHANGES = Topic(
    "csp.subscription-changes.v1",
    "subscriptionId",
    ("csp.subscription.change-requested.v1",),
    description="Changes to existing subscriptions requested by upstream commerce.",
)
PARTNER_REGISTRY = Topic(
    "csp.partner-registry.v1",
    "the entity's id",
    (
        "csp.distributor.upserted.v1",
        "csp.partner-account.upserted.v1",
        "csp.reseller-tenant.upserted.v1",
        "csp.partnership.upserted.v1",
        "csp.customer-assignment.upserted.v1",
        "csp.gdap-relationship.upserted.v1",
    ),
    compacted=True,
    description="Registry facts from the Partner Center sync; each event the full state of one entity.",
    extra_config={"min.compaction.lag.ms": str(60 * 60 * 1000)},
)
VALIDATION_REQUESTS = Topic(
    "por.validation-requests.v1",
    "orderId or subscriptionId",
    ("por.validation.requested.v1",),
    description="Internal: transactions waiting for a POR decision.",
)
DECISIONS = Topic(
    "por.decisions.v1",
    "orderId or subscriptionId",
    ("por.transaction.accepted.v1", "por.transaction.blocked.v1"),
    retention_ms=30 * DAY_MS,
    description="POR decisions for billing.",
)
REVOCATIONS = Topic(
    "gdap.revocations.v1",
    "resellerTenantId",
    ("gdap.privileges.revoked.v1", "gdap.termination.failed.v1"),
    retention_ms=30 * DAY_MS,
    description="GDAP relationships terminated by porgate (confirmed by Graph), and terminations that failed for good.",
)
DLQ = Topic(
    "por.dlq.v1",
    "the original key",
    (),
    partitions=1,
    retention_ms=30 * DAY_MS,
    description="Messages no consumer could process, unchanged, with x-dlq-* headers.",
)

ALL_TOPICS: tuple[Topic, ...] = (
    ORDERS,
    SUBSCRIPTION_CHANGES,
    PARTNER_REGISTRY,
    VALIDATION_REQUESTS,
    DECISIONS,
    REVOCATIONS,
    DLQ,
)
TOPICS_BY_NAME = {t.name: t for t in ALL_TOPICS}

EVENT_MODELS: dict[str, type[BaseModel]] = {
    "csp.order.placed.v1": ev.OrderPlaced,
    "csp.subscription.change-requested.v1": ev.SubscriptionChangeRequested,
    "csp.distributor.upserted.v1": ev.DistributorUpserted,
    "csp.partner-account.upserted.v1": ev.PartnerAccountUpserted,
    "csp.reseller-tenant.upserted.v1": ev.ResellerTenantUpserted,
    "csp.partnership.upserted.v1": ev.PartnershipUpserted,
    "csp.customer-assignment.upserted.v1": ev.CustomerAssignmentUpserted,
    "csp.gdap-relationship.upserted.v1": ev.GdapRelationshipUpserted,
    "por.validation.requested.v1": ev.ValidationRequested,
    "por.transaction.accepted.v1": ev.TransactionAccepted,
    "por.transaction.blocked.v1": ev.TransactionBlocked,
    "gdap.privileges.revoked.v1": ev.GdapPrivilegesRevoked,
    "gdap.termination.failed.v1": ev.GdapTerminationFailed,
}
EVENT_TYPES: dict[type[BaseModel], str] = {m: t for t, m in EVENT_MODELS.items()}

DLQ_HEADERS = (
    "x-dlq-source-topic",
    "x-dlq-source-partition",
    "x-dlq-source-offset",
    "x-dlq-consumer-group",
    "x-dlq-error",
    "x-dlq-failed-at",
)
