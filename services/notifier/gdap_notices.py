"""What to tell a distributor when porgate could not revoke a reseller's GDAP privileges.
Pure: plain data in, payloads out."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, TypeAdapter

from contracts.errors import Language
from contracts.events import GdapTerminationFailed
from services.notifier.notifications import Kind, Notification, envelope

TERMINATION_FAILED: Kind = "gdap_termination_failed"
_WIRE_TIME = TypeAdapter(AwareDatetime)

_TITLE: dict[Language, str] = {
    "en": "GDAP privileges of reseller {reseller} over customer {customer} could NOT be revoked",
    "ja": "リセラー {reseller} の顧客 {customer} に対する GDAP 特権を取り消せませんでした",
}
_WHY: dict[Language, str] = {
    "en": "The reseller may still administer this customer: Microsoft Graph did not confirm the"
    " termination after {attempts} attempt(s).",
    "ja": "リセラーは引き続きこの顧客を管理できる可能性があります: {attempts} 回試行しましたが、"
    "Microsoft Graph で終了が確認されませんでした。",
}
_WHAT_TO_DO: dict[Language, list[str]] = {
    "en": [
        (
            "In Partner Center (Customers > the customer > Admin relationships), or with Microsoft"
            " Graph, terminate relationship {relationship} now; if it is still awaiting the"
            " customer's approval, ask the customer not to approve it."
        ),
        (
            "Check that porgate's Graph credentials for your tenant work and hold"
            " DelegatedAdminRelationship.ReadWrite.All (the error below says what Graph answered)."
        ),
        (
            "Then run `porgate gdap retry --relationship-id {relationship}`: porgate reads the"
            " relationship again and reports the revocation once Graph confirms it."
        ),
    ],
    "ja": [
        (
            "パートナー センター (顧客 > 対象の顧客 > 管理者関係) または Microsoft Graph で、関係"
            " {relationship} を直ちに終了してください。顧客の承認待ちの場合は、承認しないよう顧客に依頼してください。"
        ),
        (
            "porgate のテナント用 Graph 資格情報が有効で、DelegatedAdminRelationship.ReadWrite.All"
            " を持つことを確認してください (Graph の応答は下のエラーに記載されています)。"
        ),
        (
            "その後 `porgate gdap retry --relationship-id {relationship}` を実行してください。porgate"
            " は関係を再確認し、Graph が確認した時点で取り消しを報告します。"
        ),
    ],
}


def termination_failed(
    failure: GdapTerminationFailed,
    *,
    distributor_id: str,
    cause_event_id: str,
    language: Language,
    created_at: datetime,
) -> Notification:
    title = _TITLE[language].format(
        reseller=failure.reseller_tenant_id, customer=failure.customer_id
    )
    details = {
        "relationshipId": failure.relationship_id,
        "customerId": failure.customer_id,
        "resellerTenantId": failure.reseller_tenant_id,
        "reason": failure.reason,
        "attempts": failure.attempts,
        "lastError": failure.last_error,
        "failedAt": _WIRE_TIME.dump_python(failure.failed_at, mode="json"),
        "stillAdministered": True,
        "why": _WHY[language].format(attempts=failure.attempts),
        "whatToDo": [
            step.format(relationship=failure.relationship_id) for step in _WHAT_TO_DO[language]
        ],
    }
    return envelope(
        cause_event_id, TERMINATION_FAILED, distributor_id, language, created_at, title, details
    )
