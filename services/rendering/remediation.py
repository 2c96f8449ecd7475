"""A remediation (services/domain/remediation.py) in the distributor's language: the JSON of
the API, `porgate remediation --format json` and notifications, and the message as plain
text and as HTML, which say the same thing."""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from typing import Any

from contracts.errors import Language
from services.domain.remediation import Remediation, Remedy
from services.rendering.remediation_text import TENANT_STATE, TEXT, WORDS

# A remedy with its cause and actions in words.
Worded = tuple[Remedy, str, tuple[str, ...]]


def fill(template: str, facts: Mapping[str, str]) -> str:
    """`template` with its {placeholders} from `facts`; a value is never read as a template
    (a description or an id may hold braces)."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(facts[field])
    return "".join(out)


def _worded(facts: Mapping[str, str], lang: Language) -> dict[str, str]:
    """The facts as the message says them: unknown regions, states and descriptions in words."""
    words = WORDS[lang]
    out = dict(facts)
    out["tenant_region"] = facts["tenant_region"] or words["unknown_region"]
    out["distributor_region"] = facts["distributor_region"] or words["unknown_region"]
    out["tenant_state"] = TENANT_STATE[lang].get(facts["tenant_state"], facts["tenant_state"])
    if "description" in facts:
        out["description"] = facts["description"] or words["no_description"]
    return out


def remedy_words(remedy: Remedy, language: Language) -> tuple[str, tuple[str, ...]]:
    """The remedy's cause and its actions, in `language`."""
    text = TEXT[language][remedy.check]
    facts = _worded(remedy.facts, language)
    actions = [a for part in remedy.parts for a in text[part]]
    return fill(str(text["cause"]), facts), tuple(fill(a, facts) for a in actions)


def to_json(r: Remediation) -> dict[str, Any]:
    """The JSON shape of the API, `porgate remediation --format json` and notifications."""
    words = WORDS[r.language]
    ids = {"pid": r.partner_id or "", "distributor": r.distributor_id}
    remedies = []
    for m in r.remedies:
        cause, actions = remedy_words(m, r.language)
        remedies.append(
            {
                "check": m.check,
                "step": m.step,
                "errorCode": m.code,
                "audience": m.audience,
                "cause": cause,
                "actions": list(actions),
            }
        )
    return {
        "partnerId": r.partner_id,
        "distributorId": r.distributor_id,
        "language": r.language,
        "authority": r.authority,
        "isValidPartnerIdOnRecord": r.valid,
        "errorCodes": list(r.error_codes),
        "mpaSigned": r.mpa_signed,
        "remedies": remedies,
        "suggestedPartnerIds": list(r.suggestions),
        "message": to_text(r),
        "recheck": None if r.valid else fill(words["recheck"], ids),
    }


def _message_parts(r: Remediation) -> tuple[str, list[tuple[str, list[Worded]]], list[str]]:
    words = WORDS[r.language]
    ids = {"pid": r.partner_id or "", "distributor": r.distributor_id}
    subject = fill(words["subject"], ids)
    if r.valid:
        return subject, [], [fill(words["valid"], ids)]
    worded = [(m, *remedy_words(m, r.language)) for m in r.remedies]
    groups = [
        (words[f"for_{audience}"], [w for w in worded if w[0].audience == audience])
        for audience in ("reseller", "distributor")
    ]
    closing = []
    if r.suggestions:
        closing.append(fill(words["suggestions"], {"ids": ", ".join(r.suggestions)}))
    closing.append(fill(words["recheck"], ids))
    return subject, [(title, ws) for title, ws in groups if ws], closing


def to_text(r: Remediation) -> str:
    """A plain-text message the distributor can forward to the reseller as it is."""
    subject, groups, closing = _message_parts(r)
    error = WORDS[r.language]["error"]
    lines = [subject, ""]
    for title, remedies in groups:
        lines.append(f"{title}:")
        for m, cause, actions in remedies:
            lines.append(f"- {cause}" + (f" ({error} {m.code})" if m.code else ""))
            lines += [f"  {i}. {a}" for i, a in enumerate(actions, 1)]
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
        for m, cause, actions in remedies:
            code = f" ({error} {m.code})" if m.code else ""
            items = "".join(f"<li>{_linked(a)}</li>" for a in actions)
            parts.append(f"<li>{html.escape(cause + code)}<ol>{items}</ol></li>")
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
