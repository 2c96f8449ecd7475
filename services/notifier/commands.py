"""`porgate notifications ...`: inspect and re-queue notifications the webhook refused."""

from __future__ import annotations

import typer

from services.common.commands import add_failed_commands
from services.notifier import store

app = typer.Typer(help="Distributor notifications (webhook deliveries).", no_args_is_help=True)

add_failed_commands(
    app,
    schema=store.SCHEMA,
    list_failed=store.failed,
    retry_failed=store.retry_failed,
    columns=[
        ("notification id", "notification_id"),
        ("kind", "kind"),
        ("distributor", "distributor_id"),
        ("attempts", "attempts"),
        ("created", "created_at"),
        ("last error", "last_error"),
    ],
    noun="notification",
    title="failed notifications",
    id_option="--notification-id",
    order="newest first",
    failed_help="List notifications whose delivery failed for good.",
    retry_help="Put failed notifications back in the delivery queue with a fresh attempt budget.",
)
