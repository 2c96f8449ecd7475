"""What to tell whom, in which language. Pure: plain data in, payloads out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, TypeAdapter

from contracts.errors import Language, describe
from contracts.events import ErrorDetail, GdapPrivilegesRevoked, TransactionDecision
from contracts.ids import derived_event_id
from services.domain.explain import from_wire
from services.rendering.explanation import render_step

_WIRE_TIME = TypeAdapter(AwareDatetime)

Kind = Literal[
    "transaction_blocked",
    "privileges_revoked",
    "partnership_removed",
    "registry_drift",
    "transaction_would_block",
    "transaction_released",
    "at_risk_digest",
    "gdap_termination_failed",
]

TRANSACTION_BLOCKED: Kind = "transaction_blocked"
PRIVILEGES_REVOKED: Kind = "privileges_revoked"
PARTNERSHIP_REMOVED: Kind = "partnership_removed"
AT_RISK_DIGEST: Kind = "at_risk_digest"


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: str
    kind: Kind
    distributor_id: str
    language: Language
    cause_event_id: str
    payload: dict[str, Any]


def notification_id(cause_event_id: str, kind: Kind, distributor_id: str) -> str:
    return derived_event_id("notification", cause_event_id, kind, distributor_id)


def is_removal_transition(
    previous_status: str | None,
    previous_as_of: datetime | None,
    status: str,
    as_of: datetime,
) -> bool:
    """True when this partnership upsert turns it `removed` from anything else (or nothing).

    An event older than the state already known is stale: it changes nothing, so it
    cannot be a transition either.
    """
    if status != "removed":
        return False
    if previous_as_of is not None and as_of < previous_as_of:
        return False
    return previous_status != "removed"


def revocation_recipients(assigned_to: Iterable[str], partnered_with: Iterable[str]) -> list[str]:
    """The distributors the customer is (or was) assigned to with the reseller; failing
    that, every distributor that has (or had) a partnership with the reseller."""
    assigned = sorted(set(assigned_to))
    return assigned if assigned else sorted(set(partnered_with))


def still_administered(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group (customer_id, relationship_id, roles) rows by customer, in a stable order."""
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(
            {"relationshipId": row["relationship_id"], "roles": list(row["roles"] or [])}
        )
    return [
        {"customerId": customer, "relationships": sorted(rels, key=lambda r: r["relationshipId"])}
        for customer, rels in sorted(by_customer.items())
    ]


# ----------------------------------------------------------------------------- text

_TITLES: dict[str, dict[Language, str]] = {
    "blocked_order": {
        "en": "Order {ref} was blocked: Partner of Record validation failed ({code})",
        "ja": "注文 {ref} はブロックされました: パートナー オブ レコード (POR) の検証に失敗しました ({code})",
    },
    "blocked_change": {
        "en": "Change to subscription {ref} was blocked: Partner of Record validation failed ({code})",
        "ja": "サブスクリプション {ref} の変更はブロックされました: パートナー オブ レコード (POR) の検証に失敗しました ({code})",
    },
    PRIVILEGES_REVOKED: {
        "en": "GDAP privileges of reseller {reseller} over customer {customer} were revoked",
        "ja": "リセラー {reseller} の顧客 {customer} に対する GDAP 特権が取り消されました",
    },
    PARTNERSHIP_REMOVED: {
        "en": "Partnership with reseller {reseller} removed: it can still administer {count} customer(s)",
        "ja": "リセラー {reseller} とのパートナーシップが削除されました: 引き続き {count} 件の顧客を管理できます",
    },
}

_REASONS: dict[str, dict[Language, str]] = {
    "reseller_suspended": {
        "en": "The reseller was suspended, so every admin privilege it held was revoked.",
        "ja": "リセラーが停止されたため、保持していたすべての管理者特権が取り消されました。",
    },
    "customer_unassigned": {
        "en": "The customer's assignment to the reseller was removed.",
        "ja": "顧客のリセラーへの割り当てが削除されました。",
    },
}

_REMOVAL_NOTE: dict[Language, str] = {
    "en": (
        "Removing a partnership does not revoke access: the reseller keeps its GDAP relationships "
        "with the customers listed until someone terminates them. Review each one and decide."
    ),
    "ja": (
        "パートナーシップを削除しても、アクセス権は取り消されません。一覧の顧客に対するリセラーの GDAP "
        "関係は、終了されるまで有効です。それぞれを確認し、対応を判断してください。"
    ),
}


def envelope(
    cause_event_id: str,
    kind: Kind,
    distributor_id: str,
    language: Language,
    created_at: datetime,
    title: str,
    details: dict[str, Any],
) -> Notification:
    nid = notification_id(cause_event_id, kind, distributor_id)
    payload = {
        "notificationId": nid,
        "kind": kind,
        "distributorId": distributor_id,
        "language": language,
        "createdAt": created_at.isoformat(),
        "causeEventId": cause_event_id,
        "title": title,
        **details,
    }
    return Notification(nid, kind, distributor_id, language, cause_event_id, payload)


def localized_errors(
    codes: Sequence[int], given: Sequence[ErrorDetail], language: Language
) -> list[dict]:
    by_code = {e.code: e for e in given}
    out = []
    for code in codes:
        try:
            text = describe(code, language)
            message, remediation = text.message, list(text.remediation)
        except ValueError:
            # A code newer than this catalogue: pass on the decision's own text rather than drop it.
            e = by_code.get(code)
            message, remediation = (e.message, list(e.remediation)) if e else ("", [])
        out.append({"code": int(code), "message": message, "remediation": remediation})
    return out


def transaction_blocked(
    decision: TransactionDecision,
    *,
    cause_event_id: str,
    language: Language,
    created_at: datetime,
    remediations: Mapping[str, dict[str, Any]] | None = None,
) -> Notification:
    """`remediations`: each blocked line's, by line item id (remediation.line_remediations)."""
    codes = list(decision.error_codes)
    primary = decision.primary_error_code or (codes[0] if codes else None)
    change = decision.transaction_kind == "subscription_change"
    ref = (decision.subscription_id if change else decision.order_id) or decision.source_event_id
    title = _TITLES["blocked_change" if change else "blocked_order"][language].format(
        ref=ref, code=primary
    )
    # Only lines that need a person; the accepted lines of a blocked order need nothing.
    lines = [
        {
            "lineItemId": line.line_item_id,
            "partnerIdOnRecord": line.partner_id_on_record,
            "errors": localized_errors(line.error_codes, line.errors, language),
            # The walk por-validator attached when it decided; null from a decision before
            # explanations (or from a publisher that attaches none).
            "explanation": [
                render_step(step, language)
                for step in from_wire(
                    line.partner_id_on_record, decision.distributor_id, line.explanation
                ).steps
            ]
            if line.explanation
            else None,
            # What to do, as `porgate remediation` and the API say it; null past the first
            # lines of a large order (remediation.MAX_REMEDIATED_LINES).
            "remediation": (remediations or {}).get(line.line_item_id),
        }
        for line in decision.lines
        if line.error_codes
    ]
    details = {
        "decisionId": decision.decision_id,
        "transactionKind": decision.transaction_kind,
        "orderId": decision.order_id,
        "subscriptionId": decision.subscription_id,
        "changeId": decision.change_id,
        "changeKind": decision.change_kind,
        "customerId": decision.customer_id,
        "errorCodes": codes,
        "primaryErrorCode": primary,
        "lines": lines,
    }
    return envelope(
        cause_event_id,
        TRANSACTION_BLOCKED,
        decision.distributor_id,
        language,
        created_at,
        title,
        details,
    )


def privileges_revoked(
    revocation: GdapPrivilegesRevoked,
    *,
    distributor_id: str,
    cause_event_id: str,
    language: Language,
    created_at: datetime,
) -> Notification:
    reason = revocation.reason
    title = _TITLES[PRIVILEGES_REVOKED][language].format(
        reseller=revocation.reseller_tenant_id, customer=revocation.customer_id
    )
    details = {
        "relationshipId": revocation.relationship_id,
        "customerId": revocation.customer_id,
        "resellerTenantId": revocation.reseller_tenant_id,
        "reason": reason,
        "reasonText": _REASONS.get(reason, {}).get(language, reason),
        # As on the wire (the contract's rendering of a timestamp).
        "revokedAt": _WIRE_TIME.dump_python(revocation.revoked_at, mode="json"),
    }
    return envelope(
        cause_event_id, PRIVILEGES_REVOKED, distributor_id, language, created_at, title, details
    )


def partnership_removed(
    *,
    distributor_id: str,
    reseller_tenant_id: str,
    customers: list[dict[str, Any]],
    cause_event_id: str,
    language: Language,
    created_at: datetime,
) -> Notification:
    """`customers` as still_administered() returns them."""
    title = _TITLES[PARTNERSHIP_REMOVED][language].format(
        reseller=reseller_tenant_id, count=len(customers)
    )
    details = {
        "resellerTenantId": reseller_tenant_id,
        "customersStillAdministered": customers,
        "note": _REMOVAL_NOTE[language],
    }
    return envelope(
        cause_event_id, PARTNERSHIP_REMOVED, distributor_id, language, created_at, title, details
    )
