"""At-risk subscriptions (services/domain/at_risk.py) as the report and the weekly digest give
them: JSON grouped by reseller, or one CSV row per subscription, in a language."""

from __future__ import annotations

from typing import Any

from contracts.errors import describe, language_of
from services.domain.at_risk import AtRiskGroup, SeenSubscription

CSV_COLUMNS = (
    "PartnerId",
    "ErrorCodes",
    "SubscriptionId",
    "OrderId",
    "LineItemId",
    "CustomerId",
    "LastSeenAt",
    "Remediation",
)


def _errors(codes: tuple[int, ...], language: str) -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "message": describe(code, language).message,
            "remediation": list(describe(code, language).remediation),
        }
        for code in codes
    ]


def _subscription(s: SeenSubscription) -> dict[str, Any]:
    return {
        "subscriptionId": s.subscription_id,
        "orderId": s.order_id,
        "lineItemId": s.line_item_id,
        "customerId": s.customer_id,
        "lastSeenAt": s.last_seen_at.isoformat(),
        "decisionId": s.decision_id,
    }


def as_json(groups: list[AtRiskGroup], language: str = "en") -> list[dict[str, Any]]:
    """The report's JSON (and the weekly digest's `resellers`): one entry per reseller."""
    lang = language_of(language)
    return [
        {
            "partnerId": g.partner_id,
            "errorCodes": list(g.codes),
            "errors": _errors(g.codes, lang),
            "subscriptions": [_subscription(s) for s in g.subscriptions],
        }
        for g in groups
    ]


def as_csv_rows(groups: list[AtRiskGroup], language: str = "en") -> list[dict[str, str]]:
    """One row per subscription; remediation as the steps of each code, one per line."""
    lang = language_of(language)
    rows = []
    for g in groups:
        remediation = "\n".join(
            f"{code}: {step}" for code in g.codes for step in describe(code, lang).remediation
        )
        for s in g.subscriptions:
            rows.append(
                {
                    "PartnerId": g.partner_id or "",
                    "ErrorCodes": ",".join(map(str, g.codes)),
                    "SubscriptionId": s.subscription_id or "",
                    "OrderId": s.order_id or "",
                    "LineItemId": s.line_item_id or "",
                    "CustomerId": s.customer_id,
                    "LastSeenAt": s.last_seen_at.isoformat(),
                    "Remediation": remediation,
                }
            )
    return rows
