"""What to tell a distributor about a decision beyond "blocked": Partner Center and the
registry disagreeing, a transaction observe mode let through, one a registry change
released. Pure: plain data in, payloads out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.errors import Language
from contracts.events import TransactionDecision
from contracts.ids import derived_event_id
from services.domain.authority import Drift
from services.notifier.notifications import Kind, Notification, envelope, localized_errors

REGISTRY_DRIFT: Kind = "registry_drift"
TRANSACTION_WOULD_BLOCK: Kind = "transaction_would_block"
TRANSACTION_RELEASED: Kind = "transaction_released"

_TITLES: dict[str, dict[Language, str]] = {
    REGISTRY_DRIFT: {
        "en": "Partner Center and porgate's registry disagree about PLA ID {pid}",
        "ja": "PLA ID {pid} について、パートナー センターと porgate のレジストリの判定が一致しません",
    },
    TRANSACTION_WOULD_BLOCK: {
        "en": "{what} {ref} would have been blocked ({code}): accepted in observe mode",
        "ja": "{what} {ref} は本来ブロックされるところでした ({code}): 監視モードのため受け付けました",
    },
    TRANSACTION_RELEASED: {
        "en": "{what} {ref} was released: its Partner of Record validates now",
        "ja": "{what} {ref} のブロックが解除されました: パートナー オブ レコードの検証に合格しました",
    },
}
_WHAT: dict[str, dict[Language, str]] = {
    "new_order": {"en": "Order", "ja": "注文"},
    "subscription_change": {"en": "The change to subscription", "ja": "サブスクリプションの変更"},
}
_DRIFT_NOTE: dict[Language, str] = {
    "en": (
        "porgate decided with Partner Center's answer, as it is the authority. The registry "
        "porgate keeps says otherwise: sync it (porgate sync partner-center) or correct the "
        "reseller's facts, so that the two agree again."
    ),
    "ja": (
        "porgate は権威であるパートナー センターの回答で判定しました。porgate のレジストリは異なる判定です。"
        "レジストリを同期する (porgate sync partner-center) か、リセラーの情報を修正して一致させてください。"
    ),
}


def _reference(decision: TransactionDecision, language: Language) -> dict[str, str]:
    change = decision.transaction_kind == "subscription_change"
    ref = (decision.subscription_id if change else decision.order_id) or decision.source_event_id
    return {"what": _WHAT[decision.transaction_kind][language], "ref": ref}


def _transaction(decision: TransactionDecision) -> dict[str, Any]:
    return {
        "decisionId": decision.decision_id,
        "transactionKind": decision.transaction_kind,
        "orderId": decision.order_id,
        "subscriptionId": decision.subscription_id,
        "changeId": decision.change_id,
        "changeKind": decision.change_kind,
        "customerId": decision.customer_id,
    }


def transaction_would_block(
    decision: TransactionDecision, *, cause_event_id: str, language: Language, created_at: datetime
) -> Notification:
    """Observe mode accepted it; enforcement would have blocked it, for these reasons."""
    codes = list(decision.observed_error_codes or ())
    title = _TITLES[TRANSACTION_WOULD_BLOCK][language].format(
        **_reference(decision, language), code=codes[0] if codes else ""
    )
    lines = [
        {
            "lineItemId": line.line_item_id,
            "partnerIdOnRecord": line.partner_id_on_record,
            "errors": localized_errors(line.observed_error_codes or [], [], language),
        }
        for line in decision.lines
        if line.observed_error_codes
    ]
    details = {**_transaction(decision), "observedErrorCodes": codes, "lines": lines}
    return envelope(
        cause_event_id,
        TRANSACTION_WOULD_BLOCK,
        decision.distributor_id,
        language,
        created_at,
        title,
        details,
    )


def transaction_released(
    decision: TransactionDecision, *, cause_event_id: str, language: Language, created_at: datetime
) -> Notification:
    """A blocked transaction that now passes: the decision naming the one it supersedes."""
    title = _TITLES[TRANSACTION_RELEASED][language].format(**_reference(decision, language))
    details = {**_transaction(decision), "supersedesDecisionId": decision.supersedes_decision_id}
    return envelope(
        cause_event_id,
        TRANSACTION_RELEASED,
        decision.distributor_id,
        language,
        created_at,
        title,
        details,
    )


def registry_drift(
    decision: TransactionDecision,
    drift: Drift,
    *,
    cause_event_id: str,
    language: Language,
    created_at: datetime,
) -> Notification:
    """Once per (distributor, PLA id, codes pair) per day: the id derives from those and the
    decision's day, so every later decision that drifts the same way that day adds nothing."""
    day = decision.decided_at.astimezone(UTC).date().isoformat()
    nid = derived_event_id(
        "notification",
        REGISTRY_DRIFT,
        decision.distributor_id,
        drift.partner_id,
        str(drift.partner_center_code),
        ",".join(map(str, drift.registry_codes)),
        day,
    )
    payload = {
        "notificationId": nid,
        "kind": REGISTRY_DRIFT,
        "distributorId": decision.distributor_id,
        "language": language,
        "createdAt": created_at.isoformat(),
        "causeEventId": cause_event_id,
        "title": _TITLES[REGISTRY_DRIFT][language].format(pid=drift.partner_id),
        "partnerId": drift.partner_id,
        # null: Partner Center says the PLA id is valid; [] below: so does the registry.
        "partnerCenterErrorCode": drift.partner_center_code,
        "registryErrorCodes": list(drift.registry_codes),
        "day": day,
        "firstDecisionId": decision.decision_id,
        "outcome": decision.outcome,
        "note": _DRIFT_NOTE[language],
    }
    return Notification(
        nid, REGISTRY_DRIFT, decision.distributor_id, language, cause_event_id, payload
    )
