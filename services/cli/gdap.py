"""`porgate gdap ...`: inspect and re-queue GDAP terminations that failed for good."""

from services.cli.errors import command_group
from services.cli.failed import add_failed_commands
from services.cli.output import Column
from services.gdap_revoker import store

app = command_group("GDAP terminations (gdap-revoker).")

add_failed_commands(
    app,
    schema=store.SCHEMA,
    list_failed=store.failed_terminations,
    retry_failed=store.retry_failed,
    columns=[
        Column("relationship id", "relationshipId", "relationship_id"),
        Column("reseller tenant", "resellerTenantId", "reseller_tenant_id"),
        Column("customer", "customerId", "customer_id"),
        Column("distributor", "distributorId", "distributor_id"),
        Column("reason", "reason"),
        Column("attempts", "attempts"),
        Column("requested", "requestedAt", "requested_at"),
        Column("failed", "failedAt", "failed_at"),
        Column("last error", "lastError", "last_error"),
    ],
    id_key="relationshipId",
    noun="termination",
    title="failed GDAP terminations",
    id_option="--relationship-id",
    order="oldest first",
    failed_help="List terminations that failed for good: the reseller may still hold these privileges.",
    retry_help="Put failed terminations back to pending with a fresh attempt budget.",
)
