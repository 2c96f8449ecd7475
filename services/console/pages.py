"""The read pages over decisions: the overview, the transactions, one transaction."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from contracts.errors import CANONICAL_ORDER
from contracts.ids import derived_event_id
from services.console import queries, views
from services.console.auth import Principal
from services.console.charts import horizontal_bars
from services.console.context import Console
from services.console.web import language, not_found, render
from services.domain.por_rules import normalize_partner_id
from services.gdap_revoker import store as gdap_store
from services.notifier import store as notifier_store
from services.por_validator import store as validator_store

SEARCH_FIELDS = {
    "order": "Order id",
    "subscription": "Subscription id",
    "pla": "PLA id",
    "customer": "Customer id",
    "reseller": "Reseller (PLA id, tenant id or name)",
}


async def overview(request: Request, console: Console, principal: Principal) -> Response:
    scope = principal.scope(request.query_params.get("distributor"))
    now = datetime.now(UTC)
    since = now.replace(second=0, microsecond=0) - timedelta(days=1) + timedelta(minutes=1)
    decisions = await console.pool(validator_store.SCHEMA)
    notifier = await console.pool(notifier_store.SCHEMA)
    gdap = await console.pool(gdap_store.SCHEMA)
    per_minute, codes, failed_notifications, failed_terminations, broker = await asyncio.gather(
        queries.decision_counts(decisions, scope, since),
        queries.top_codes(decisions, scope, since),
        queries.failed_notification_count(notifier, scope),
        queries.failed_termination_count(gdap, scope),
        # The broker's figures are the whole system's: operators only.
        console.broker.snapshot() if principal.is_operator else asyncio.sleep(0, None),
    )
    model = views.overview(per_minute, codes, now)
    lag_chart = None
    if broker is not None and broker.lags:
        lag_chart = horizontal_bars(
            "Consumer lag per group (records behind)",
            [(g.group, g.lag) for g in broker.lags],
            "lag",
        )
    return render(
        console,
        request,
        principal,
        "overview.html",
        model=model,
        broker=broker,
        lag_chart=lag_chart,
        failed_notifications=failed_notifications,
        failed_terminations=failed_terminations,
        distributors=await _distributors(console, principal),
        chosen=scope,
        now=now,
    )


async def _distributors(console: Console, principal: Principal) -> list:
    if not principal.is_operator:
        return []
    return await queries.distributors(await console.pool(validator_store.SCHEMA))


async def transactions(request: Request, console: Console, principal: Principal) -> Response:
    q = request.query_params
    by = q.get("by") if q.get("by") in SEARCH_FIELDS else "order"
    text = (q.get("q") or "").strip()
    pool = await console.pool(validator_store.SCHEMA)
    partner_ids = None
    if text and by == "pla":
        partner_ids = [normalize_partner_id(text) or text]
    elif text and by == "reseller":
        partner_ids = await queries.partner_ids_of_reseller(pool, text)
    outcome = q.get("outcome") if q.get("outcome") in ("accepted", "blocked") else None
    f = queries.DecisionFilter(
        distributor_id=principal.scope(q.get("distributor")),
        outcome=outcome,
        code=views.parse_code(q.get("code")),
        since=views.parse_local_time(q.get("since")),
        until=views.parse_local_time(q.get("until")),
        order_id=text if text and by == "order" else None,
        subscription_id=text if text and by == "subscription" else None,
        customer_id=text if text and by == "customer" else None,
        partner_ids=partner_ids,
    )
    rows = await queries.decisions_page(
        pool, f, views.decode_cursor(q.get("after")), views.PAGE_SIZE + 1
    )
    more = len(rows) > views.PAGE_SIZE
    rows = rows[: views.PAGE_SIZE]
    next_query = None
    if more:
        params = {k: v for k, v in q.items() if k != "after" and v}
        params["after"] = views.encode_cursor(rows[-1]["decided_at"], rows[-1]["decision_id"])
        next_query = params
    return render(
        console,
        request,
        principal,
        "transactions.html",
        rows=rows,
        next_query=next_query,
        first_query={k: v for k, v in q.items() if k != "after" and v} if q.get("after") else None,
        fields=SEARCH_FIELDS,
        by=by,
        text=text,
        outcome=outcome or "",
        code=q.get("code") or "",
        codes=[int(c) for c in CANONICAL_ORDER],
        since=q.get("since") or "",
        until=q.get("until") or "",
        distributors=await _distributors(console, principal),
        chosen=f.distributor_id or "",
    )


async def transaction(request: Request, console: Console, principal: Principal) -> Response:
    decision_id = request.path_params["decision_id"]
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
    return render(
        console,
        request,
        principal,
        "transaction.html",
        row=row,
        decision=decision,
        request_json=views.as_text(row["request"].encode()),
        lines=views.decision_lines(decision, lang),
        codes=views.code_texts(row["error_codes"], lang),
        chain=chain,
        notifications=notifications,
        explanations=views.line_explanations(decision, lang),
        lang=lang,
    )
