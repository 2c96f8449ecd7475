"""The remediation a blocked notification carries for each blocked line: `remediate()`, as
the API, `porgate remediation` and the console render it, in the distributor's language.
Pure: the decision and a registry slice in, JSON out.

The failed steps are the decision's own (the walk its line carries), so the message matches
the codes it is sent with, however far the registry has moved since. The facts that make the
remedies concrete (the request link, the organisation's PLA ids) come from the notifier's
projection. Suggestions come from the registry's rules where the registry decided the line;
where Partner Center did, the notifier cannot ask it, so it suggests nothing
(`porgate remediation` and the console ask Partner Center for theirs).
"""

from __future__ import annotations

from typing import Any

from contracts.errors import Language
from contracts.events import DecisionLine, TransactionDecision
from services.domain.alternatives import passing_alternatives
from services.domain.authority import Answer
from services.domain.explain import from_wire
from services.domain.por_rules import Registry, normalize_partner_id
from services.domain.remediation import Context, remediate
from services.rendering.remediation import to_json

# As many lines as carry a walk (por_validator.explanation.MAX_EXPLAINED_LINES): a large
# blocked order's notification stays small; `porgate remediation` gives any line's.
MAX_REMEDIATED_LINES = 20


def line_remediations(
    decision: TransactionDecision,
    registry: Registry,
    partnership_request_url: str | None,
    language: Language,
) -> dict[str, dict[str, Any]]:
    """Each blocked line's remediation, by line item id, in the API's JSON shape."""
    out: dict[str, dict[str, Any]] = {}
    for line in [line for line in decision.lines if line.error_codes][:MAX_REMEDIATED_LINES]:
        context = _context(line, decision, registry, partnership_request_url)
        found = remediate(
            line.partner_id_on_record, decision.distributor_id, registry, language, context
        )
        out[line.line_item_id] = to_json(found)
    return out


def _context(
    line: DecisionLine,
    decision: TransactionDecision,
    registry: Registry,
    partnership_request_url: str | None,
) -> Context:
    pid = normalize_partner_id(line.partner_id_on_record)
    walk = (
        from_wire(line.partner_id_on_record, decision.distributor_id, line.explanation)
        if line.explanation
        else None
    )
    # Partner Center decided the line when the registry's codes ride along; an id that is
    # not a PLA id's shape was never asked, whatever the authority.
    if line.registry_error_codes is not None and pid is not None:
        code = line.error_codes[0]
        description = next((e.message for e in line.errors if e.code == code), None)
        return Context(
            partnership_request_url=partnership_request_url,
            partner_center=Answer(pid, False, code, description),
            walk=walk,
        )
    return Context(
        partnership_request_url=partnership_request_url,
        suggestions=tuple(
            passing_alternatives(registry, line.partner_id_on_record, decision.distributor_id)
        ),
        walk=walk,
    )
