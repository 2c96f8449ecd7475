"""What to do about a blocked line, in concrete steps. Pure.

From the failed steps of the decision table's walk (`explain`, so the codes are the
validator's) or, where Partner Center is the authority, from its one code: a remedy per
cause, with the facts that make it concrete (the distributor's partnership-request link,
the tenant's region, the organisation's PLA ids), and the organisation's PLA ids that pass
now. The API, `porgate remediation`, the console and the blocked notification all render
`remediate()`'s result in the distributor's language (services/rendering/remediation.py),
so they say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from contracts.errors import ErrorCode, Language, language_of
from services.domain.alternatives import in_region, organisation_pla_ids
from services.domain.authority import Answer
from services.domain.explain import Explanation, explain
from services.domain.por_rules import STEPS, Registry, normalize_partner_id

Audience = Literal["reseller", "distributor"]

# Checks beyond the table's steps.
PARTNER_CENTER_CODE = "partner_center_code"
MPA_SIGNED = "mpa_signed"

# Who acts on each remedy: the distributor sends partnership requests and corrects the POR;
# the reseller fixes its own accounts and tenant.
AUDIENCE: Mapping[str, Audience] = MappingProxyType(
    {
        "pla_id_shape": "distributor",
        "partner_account_known": "distributor",
        "account_is_pla": "distributor",
        "pla_active": "reseller",
        "tenant_active": "reseller",
        "tenant_not_direct_bill_only": "reseller",
        "tenant_authorized_indirect_reseller": "reseller",
        "active_partnership": "distributor",
        "same_csp_region": "reseller",
        PARTNER_CENTER_CODE: "distributor",
        MPA_SIGNED: "reseller",
    }
)

# Partner Center gives one code and no step: the step whose remedy fits that code best
# (900414 is steps 6 and 8; without the registry's walk, the partnership is the likelier).
STEP_FOR_CODE: dict[int, int] = {
    int(ErrorCode.INCORRECT_PLA_ID): 2,
    int(ErrorCode.PLA_INACTIVE): 4,
    int(ErrorCode.NO_ACTIVE_RESELLER_TENANT): 5,
    int(ErrorCode.NOT_CSP_INDIRECT_RESELLER): 7,
    int(ErrorCode.NOT_AUTHORIZED_FOR_TRANSACTION): 8,
    int(ErrorCode.REGION_MISMATCH): 9,
}
_STEP_BY_NUMBER = {s.number: s for s in STEPS}


@dataclass(frozen=True, slots=True)
class Remedy:
    check: str  # the step's check, or PARTNER_CENTER_CODE, or MPA_SIGNED
    step: int | None
    code: int | None
    audience: Audience
    # The parts of the check's text that fit the facts ("actions", "with_url", ...), and the
    # facts that fill its placeholders, in no language: an unknown region is "", a tenant's
    # state its status (or "none", "missing"), a missing description "".
    parts: tuple[str, ...]
    facts: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Context:
    """What the remedies read beyond the registry slice."""

    partnership_request_url: str | None = None
    # Partner Center's answer for this id, when it is the authority.
    partner_center: Answer | None = None
    # Its agreementstatus answer: False is "MPA not signed in this region"; None unknown.
    mpa_signed: bool | None = None
    # The organisation's PLA ids that pass now (alternatives.passing_alternatives).
    suggestions: tuple[str, ...] = ()
    # The walk a decision already made carries (its line's `explanation`): its failed steps
    # are the remedies, whatever the registry says by the time the message is written.
    walk: Explanation | None = None


@dataclass(frozen=True, slots=True)
class Remediation:
    partner_id: str | None
    distributor_id: str
    language: Language
    authority: str  # "registry" or "partner_center"
    error_codes: tuple[int, ...]
    remedies: tuple[Remedy, ...]
    suggestions: tuple[str, ...]
    mpa_signed: bool | None

    @property
    def valid(self) -> bool:
        return not self.error_codes


def remediate(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    language: str = "en",
    context: Context | None = None,
) -> Remediation:
    """The remedies for this PLA id and distributor; none when it passes."""
    context = context or Context()
    lang = language_of(language)
    walk = context.walk or explain(partner_id, distributor_id, registry)
    failed = [(s.step, s.check, s.code) for s in walk.steps if s.outcome == "fail"]
    answer = context.partner_center
    facts = _facts(partner_id, distributor_id, registry, context, walk)
    remedies: list[Remedy] = []
    if answer is None:
        codes = tuple(walk.codes)
        remedies = [_step_remedy(step, check, code, facts) for step, check, code in failed]
    else:
        codes = tuple(answer.codes)
        if codes:
            code = codes[0]
            if context.mpa_signed is False:
                remedies.append(_remedy(MPA_SIGNED, None, code, facts, ("actions",)))
            if code in STEP_FOR_CODE:
                # The registry's walk says which step, where it agrees with Partner Center.
                agreeing = [(s, c, k) for s, c, k in failed if k == code]
                if not agreeing:
                    step = _STEP_BY_NUMBER[STEP_FOR_CODE[code]]
                    agreeing = [(step.number, step.check, code)]
                remedies += [_step_remedy(s, c, k, facts) for s, c, k in agreeing]
            else:
                own = {**facts, "code": str(code), "description": answer.error_description or ""}
                remedies.append(_remedy(PARTNER_CENTER_CODE, None, code, own, ("actions",)))
    return Remediation(
        partner_id if isinstance(partner_id, str) or partner_id is None else repr(partner_id),
        distributor_id,
        lang,
        "registry" if answer is None else "partner_center",
        codes,
        tuple(remedies),
        context.suggestions if codes else (),
        context.mpa_signed,
    )


def _facts(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    context: Context,
    walk: Explanation,
) -> dict[str, str]:
    pid = normalize_partner_id(partner_id)
    account = registry.accounts.get(pid) if pid else None
    tenant_id = account.reseller_tenant_id if account else None
    tenant = registry.tenants.get(tenant_id) if tenant_id else None
    distributor = registry.distributors.get(distributor_id)
    if tenant_id is None:
        state = "none"
    else:
        state = "missing" if tenant is None else tenant.status
    tenant_region = tenant.region if tenant else None
    distributor_region = distributor.region if distributor else None
    # What the walk read wins: a decision's walk states the facts it was decided on.
    read = {f.fact: f.value for s in walk.steps for f in s.facts}
    if "resellerTenant.status" in read:
        state = (
            "none"
            if read.get("partnerAccount.resellerTenantId") is None
            else str(read["resellerTenant.status"] or "missing")
        )
    tenant_region = str(read.get("resellerTenant.cspRegion", tenant_region) or "") or None
    distributor_region = str(read.get("distributor.cspRegion", distributor_region) or "") or None
    organisation = organisation_pla_ids(registry, partner_id)
    return {
        "pid": pid or repr(partner_id if partner_id is not None else ""),
        "distributor": distributor_id,
        "url": context.partnership_request_url or "",
        "tenant_region": tenant_region or "",
        "distributor_region": distributor_region or "",
        "tenant_state": state,
        "org_ids": ", ".join(organisation),
        "region_ids": ", ".join(in_region(registry, organisation, distributor_region)),
    }


def _step_remedy(step: int, check: str, code: int | None, facts: dict[str, str]) -> Remedy:
    return _remedy(check, step, code, facts, parts_for(check, facts))


def parts_for(check: str, facts: dict[str, str]) -> tuple[str, ...]:
    """Which parts of a check's text apply, given the facts."""
    if check == "account_is_pla":
        return ("with_ids",) if facts["org_ids"] else ("without_ids",)
    if check == "same_csp_region":
        return ("with_ids",) if facts["region_ids"] else ("without_ids",)
    if check == "active_partnership":
        return ("actions", "with_url" if facts["url"] else "without_url")
    return ("actions",)


def _remedy(
    check: str,
    step: int | None,
    code: int | None,
    facts: dict[str, str],
    parts: Sequence[str],
) -> Remedy:
    return Remedy(check, step, code, AUDIENCE[check], tuple(parts), MappingProxyType(facts))
