"""An explanation (services/domain/explain.py) in a language: the JSON the API, the CLI,
the console and notifications give, and each step's condition as domain.md states it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from contracts.errors import Language, describe, language_of
from services.domain.explain import Explanation, StepResult

_WIRE_TIME = TypeAdapter(AwareDatetime)

# Each step's condition as domain.md states it: what must hold for the step to pass.
_CONDITIONS: dict[str, dict[Language, str]] = {
    "pla_id_shape": {
        "en": "The ID, trimmed of surrounding whitespace, is 5 to 10 ASCII digits.",
        "ja": "ID (前後の空白を除く) が 5 ～ 10 桁の半角数字である。",
    },
    "partner_account_known": {
        "en": "A partner account with this ID is known.",
        "ja": "この ID のパートナー アカウントが登録されている。",
    },
    "account_is_pla": {
        "en": "The account is a PLA (location) account, not a PGA (global) account.",
        "ja": "アカウントが PGA (グローバル) アカウントではなく PLA (ロケーション) アカウントである。",
    },
    "pla_active": {
        "en": "The PLA is active.",
        "ja": "PLA がアクティブである。",
    },
    "tenant_active": {
        "en": "A reseller tenant is linked to the PLA, and it is active (not missing, suspended, deleted or pending onboarding).",
        "ja": "PLA にリセラー テナントがリンクされており、そのテナントがアクティブである (存在しない、停止、削除、オンボード未完了のいずれでもない)。",
    },
    "tenant_not_direct_bill_only": {
        "en": "The tenant is not only a direct-bill tenant.",
        "ja": "テナントが直接請求テナントのみではない。",
    },
    "tenant_authorized_indirect_reseller": {
        "en": "The tenant is an authorized CSP indirect reseller tenant.",
        "ja": "テナントが承認された CSP 間接リセラー テナントである。",
    },
    "active_partnership": {
        "en": "The reseller tenant has an active partnership with this distributor.",
        "ja": "リセラー テナントとこのディストリビューターの間にアクティブなパートナーシップがある。",
    },
    "same_csp_region": {
        "en": "The tenant's CSP region is the distributor's (compared only where both are known).",
        "ja": "テナントの CSP リージョンがディストリビューターのリージョンと同じである (両方が判明している場合のみ比較)。",
    },
}


def condition_text(check: str, language: str) -> str:
    return _CONDITIONS[check][language_of(language)]


def _time(value: datetime | None) -> str | None:
    return None if value is None else _WIRE_TIME.dump_python(value, mode="json")


def render(explanation: Explanation, language: str = "en") -> dict[str, Any]:
    """The JSON shape the API, the CLI and notifications give, in `language` (en or ja)."""
    lang = language_of(language)
    codes = explanation.codes
    return {
        "partnerId": explanation.partner_id,
        "distributorId": explanation.distributor_id,
        "language": lang,
        "isValidPartnerIdOnRecord": not codes,
        "errorCodes": codes,
        "steps": [render_step(s, lang) for s in explanation.steps],
    }


def render_step(step: StepResult, language: Language) -> dict[str, Any]:
    text = describe(step.code, language) if step.code is not None else None
    return {
        "step": step.step,
        "check": step.check,
        "condition": condition_text(step.check, language),
        "outcome": step.outcome,
        "errorCode": step.code,
        "facts": [
            {"fact": f.fact, "value": f.value, "asOf": _time(f.as_of), "eventId": f.event_id}
            for f in step.facts
        ],
        "message": text.message if text else None,
        "remediation": list(text.remediation) if text else [],
    }
