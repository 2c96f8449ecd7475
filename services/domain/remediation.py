"""What to do about a blocked line, in concrete steps, in the distributor's language. Pure.

From the failed steps of the decision table's walk (`explain`, so the codes are the
validator's) or, where Partner Center is the authority, from its one code: a remedy per
cause, with the facts that make it concrete (the distributor's partnership-request link,
the tenant's region, the organisation's PLA ids), and the organisation's PLA ids that pass
now. The API, `porgate remediation`, the console and the blocked notification all render
`remediate()`'s result, so they say the same thing.
"""

from __future__ import annotations

import html
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts.errors import ErrorCode, Language, language_of
from services.domain.alternatives import in_region, organisation_pla_ids
from services.domain.authority import Answer
from services.domain.explain import Explanation, explain
from services.domain.por_rules import STEPS, Registry, normalize_partner_id
from services.domain.remediation_text import (
    AUDIENCE,
    MPA_SIGNED,
    PARTNER_CENTER_CODE,
    TENANT_STATE,
    TEXT,
    WORDS,
    Audience,
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
    cause: str
    actions: tuple[str, ...]


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
    facts = _facts(partner_id, distributor_id, registry, context, lang, walk)
    remedies: list[Remedy] = []
    if answer is None:
        codes = tuple(walk.codes)
        remedies = [_step_remedy(step, check, code, facts, lang) for step, check, code in failed]
    else:
        codes = tuple(answer.codes)
        if codes:
            code = codes[0]
            if context.mpa_signed is False:
                remedies.append(_remedy(MPA_SIGNED, None, code, facts, lang, ("actions",)))
            if code in STEP_FOR_CODE:
                # The registry's walk says which step, where it agrees with Partner Center.
                agreeing = [(s, c, k) for s, c, k in failed if k == code]
                if not agreeing:
                    step = _STEP_BY_NUMBER[STEP_FOR_CODE[code]]
                    agreeing = [(step.number, step.check, code)]
                remedies += [_step_remedy(s, c, k, facts, lang) for s, c, k in agreeing]
            else:
                text = {**facts, "code": str(code)}
                text["description"] = answer.error_description or WORDS[lang]["no_description"]
                remedies.append(_remedy(PARTNER_CENTER_CODE, None, code, text, lang, ("actions",)))
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
    lang: Language,
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
    unknown = WORDS[lang]["unknown_region"]
    return {
        "pid": pid or repr(partner_id if partner_id is not None else ""),
        "distributor": distributor_id,
        "url": context.partnership_request_url or "",
        "tenant_region": tenant_region or unknown,
        "distributor_region": distributor_region or unknown,
        "tenant_state": TENANT_STATE[lang].get(state, state),
        "org_ids": ", ".join(organisation),
        "region_ids": ", ".join(in_region(registry, organisation, distributor_region)),
    }


def _step_remedy(
    step: int, check: str, code: int | None, facts: dict[str, str], lang: Language
) -> Remedy:
    return _remedy(check, step, code, facts, lang, parts_for(check, facts))


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
    lang: Language,
    parts: Sequence[str],
) -> Remedy:
    text = TEXT[lang][check]
    cause = str(text["cause"])
    actions = [a for part in parts for a in text[part]]
    return Remedy(
        check,
        step,
        code,
        AUDIENCE[check],
        fill(cause, facts),
        tuple(fill(a, facts) for a in actions),
    )


def fill(template: str, facts: dict[str, str]) -> str:
    """`template` with its {placeholders} from `facts`; a value is never read as a template
    (a description or an id may hold braces)."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(facts[field])
    return "".join(out)


# ----------------------------------------------------------------------------- rendering


def to_json(r: Remediation) -> dict[str, Any]:
    """The JSON shape of the API, `porgate remediation --format json` and notifications."""
    words = WORDS[r.language]
    ids = {"pid": r.partner_id or "", "distributor": r.distributor_id}
    return {
        "partnerId": r.partner_id,
        "distributorId": r.distributor_id,
        "language": r.language,
        "authority": r.authority,
        "isValidPartnerIdOnRecord": r.valid,
        "errorCodes": list(r.error_codes),
        "mpaSigned": r.mpa_signed,
        "remedies": [
            {
                "check": m.check,
                "step": m.step,
                "errorCode": m.code,
                "audience": m.audience,
                "cause": m.cause,
                "actions": list(m.actions),
            }
            for m in r.remedies
        ],
        "suggestedPartnerIds": list(r.suggestions),
        "message": to_text(r),
        "recheck": None if r.valid else fill(words["recheck"], ids),
    }


def _message_parts(r: Remediation) -> tuple[str, list[tuple[str, list[Remedy]]], list[str]]:
    words = WORDS[r.language]
    ids = {"pid": r.partner_id or "", "distributor": r.distributor_id}
    subject = fill(words["subject"], ids)
    if r.valid:
        return subject, [], [fill(words["valid"], ids)]
    groups = [
        (words[f"for_{audience}"], [m for m in r.remedies if m.audience == audience])
        for audience in ("reseller", "distributor")
    ]
    closing = []
    if r.suggestions:
        closing.append(fill(words["suggestions"], {"ids": ", ".join(r.suggestions)}))
    closing.append(fill(words["recheck"], ids))
    return subject, [(title, ms) for title, ms in groups if ms], closing


def to_text(r: Remediation) -> str:
    """A plain-text message the distributor can forward to the reseller as it is."""
    subject, groups, closing = _message_parts(r)
    error = WORDS[r.language]["error"]
    lines = [subject, ""]
    for title, remedies in groups:
        lines.append(f"{title}:")
        for m in remedies:
            lines.append(f"- {m.cause}" + (f" ({error} {m.code})" if m.code else ""))
            lines += [f"  {i}. {a}" for i, a in enumerate(m.actions, 1)]
        lines.append("")
    lines += closing
    return "\n".join(lines).rstrip() + "\n"


def to_html(r: Remediation) -> str:
    """The same message as an HTML fragment (escaped; the partnership link is a link)."""
    subject, groups, closing = _message_parts(r)
    error = WORDS[r.language]["error"]
    parts = [
        f'<section class="remediation" lang="{r.language}">',
        f"<h3>{html.escape(subject)}</h3>",
    ]
    for title, remedies in groups:
        parts.append(f"<h4>{html.escape(title)}</h4><ul>")
        for m in remedies:
            code = f" ({error} {m.code})" if m.code else ""
            items = "".join(f"<li>{_linked(a)}</li>" for a in m.actions)
            parts.append(f"<li>{html.escape(m.cause + code)}<ol>{items}</ol></li>")
        parts.append("</ul>")
    parts += [f"<p>{html.escape(c)}</p>" for c in closing]
    parts.append("</section>")
    return "\n".join(parts) + "\n"


def _linked(text: str) -> str:
    """Escaped text, with an https:// URL at its end made a link (the partnership request)."""
    head, sep, url = text.rpartition("https://")
    if not sep or any(c.isspace() for c in url):
        return html.escape(text)
    href = html.escape(sep + url, quote=True)
    return f'{html.escape(head)}<a href="{href}">{href}</a>'
