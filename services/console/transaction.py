"""One transaction: its decision, each blocked line's remediation (what `porgate remediation`
and the API say now) and what would pass, its chain of decisions, notifications and walk;
and "Re-check now" for a PLA id of its lines."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from contracts.ids import derived_event_id
from services.console import queries, views
from services.console.auth import Principal
from services.console.context import Console
from services.console.recheck import RecheckOutcome, form_text, run_recheck
from services.console.web import language, not_found, render
from services.domain.por_rules import normalize_partner_id
from services.notifier import store as notifier_store
from services.por_validator import store as validator_store
from services.rendering.remediation import to_html, to_text

# The button's words, as the remediation message names it in each language.
RECHECK_LABEL = {"en": "Re-check now", "ja": "今すぐ再確認"}


async def transaction(request: Request, console: Console, principal: Principal) -> Response:
    return await _page(request, console, principal, request.path_params["decision_id"])


async def recheck(request: Request, console: Console, principal: Principal) -> Response:
    """Re-check one PLA id of this transaction's lines, for its distributor; the page again,
    saying what changed."""
    decision_id = request.path_params["decision_id"]
    pool = await console.pool(validator_store.SCHEMA)
    row = await queries.decision(pool, decision_id)
    if row is None or not principal.may_see(row["distributor_id"]):
        return not_found(console, request, principal)
    partner_id = form_text((await request.form()).get("partner_id"))
    on_lines = {
        normalize_partner_id(line.get("partnerIdOnRecord"))
        for line in json.loads(row["decision"]).get("lines") or ()
    }
    if partner_id is None or normalize_partner_id(partner_id) not in on_lines - {None}:
        return not_found(console, request, principal)
    outcome = await run_recheck(
        console, principal, partner_id, row["distributor_id"], language(request)
    )
    return await _page(request, console, principal, decision_id, outcome)


async def _page(
    request: Request,
    console: Console,
    principal: Principal,
    decision_id: str,
    recheck: RecheckOutcome | None = None,
) -> Response:
    pool = await console.pool(validator_store.SCHEMA)
    row = await queries.decision(pool, decision_id)
    if row is None or not principal.may_see(row["distributor_id"]):
        return not_found(console, request, principal)
    lang = language(request)
    decision = json.loads(row["decision"])
    chain = [
        c
        for c in await queries.supersede_chain(pool, decision_id)
        if principal.may_see(c["distributor_id"])
    ]
    notifier = await console.pool(notifier_store.SCHEMA)
    notifications = [
        n
        for n in await queries.notifications_for(
            notifier, derived_event_id("decision-event", decision_id)
        )
        if principal.may_see(n["distributor_id"])
    ]
    blocked = views.blocked_ids(decision)
    found = await console.remedies.remediations(
        pool, row["distributor_id"], list({b.partner_id for b in blocked}), lang
    )
    remedies = [
        {
            "id": b,
            "remediation": found[b.partner_id],
            "html": to_html(found[b.partner_id]),
            "text": to_text(found[b.partner_id]),
        }
        for b in blocked
    ]
    return render(
        console,
        request,
        principal,
        "transaction.html",
        status=recheck.status if recheck else 200,
        row=row,
        decision=decision,
        request_json=views.as_text(row["request"].encode()),
        lines=views.decision_lines(decision, lang),
        codes=views.code_texts(row["error_codes"], lang),
        remedies=remedies,
        recheck=recheck,
        recheck_label=RECHECK_LABEL[lang],
        chain=chain,
        notifications=notifications,
        explanations=views.line_explanations(decision, lang),
        lang=lang,
    )
