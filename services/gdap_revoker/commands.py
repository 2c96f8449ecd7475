"""`porgate gdap ...`: inspect and re-queue GDAP terminations that failed for good."""

from __future__ import annotations

import typer

from services.common.commands import add_failed_commands
from services.gdap_revoker import store

app = typer.Typer(help="GDAP terminations (gdap-revoker).", no_args_is_help=True)

add_failed_commands(
    app,
    schema=store.SCHEMA,
    list_failed=store.failed_terminations,
    retry_failed=store.retry_failed,
    columns=[
        ("relationship id", "relationship_id"),
        ("reseller tenant", "reseller_tenant_id"),
        ("customer", "customer_id"),
        ("distributor", "distributor_id"),
        ("reason", "reason"),
        ("attempts", "attempts"),
        ("requested", "requested_at"),
        ("failed", "failed_at"),
        ("last error", "last_error"),
    ],
    noun="termination",
    title="failed GDAP terminations",
    id_option="--relationship-id",
    order="oldest first",
    failed_help="List terminations that failed for good: the reseller may still hold these privileges.",
    retry_help="Put failed terminations back to pending with a fresh attempt budget.",
)
