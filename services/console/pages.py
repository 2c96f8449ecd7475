"""The read pages over decisions: the overview and the transactions (one transaction is
transaction.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from contracts.errors import CANONICAL_ORDER
from services.console import queries, views
from services.console.auth import Principal
from services.console.charts import horizontal_bars
from services.console.context import Console
from services.console.web import render
from services.domain.por_rules import normalize_partner_id
from services.gdap_revoker import store as gdap_store
from services.notifier import store as notifier_store
from services.por_validator import store as validator_store

LAG_SCALE_AT_LEAST = 100
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
            [(g.group, "", g.lag) for g in broker.lags],
            "lag",
            unit="records behind",
            # A lag of a few records is normal traffic, not a full bar.
            at_least=LAG_SCALE_AT_LEAST,
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
    times, problems = {}, []
    for name, label, end_of_day in (("since", "From", False), ("until", "Until", True)):
        try:
            times[name] = views.parse_local_time(q.get(name), end_of_day=end_of_day)
        except ValueError:
            times[name] = None
            problems.append(f"{label}: {q.get(name)!r} is not a date ({views.TIME_FORMAT_HINT})")
    f = queries.DecisionFilter(
        distributor_id=principal.scope(q.get("distributor")),
        outcome=outcome,
        code=views.parse_code(q.get("code")),
        since=times["since"],
        until=times["until"],
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
    partner_ids = await queries.partner_ids_of_decisions(pool, [r["decision_id"] for r in rows])
    names = await queries.account_names(
        pool, sorted({p for ps in partner_ids.values() for p in ps})
    )
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
        partner_ids=partner_ids,
        names=names,
        problems=problems,
        time_hint=views.TIME_FORMAT_HINT,
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
