"""The partner registry as the validator sees it, a PLA id checked on the spot, and the
eligibility report (the CLI's, as a table and as CSV, a page per query from the console's
shared pool: a view never opens a pool of its own or reads an unbounded population)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from services.console import queries, views
from services.console.auth import Principal
from services.console.context import Console
from services.console.recheck import RecheckOutcome, form_text, run_recheck
from services.console.web import language, render
from services.domain.eligibility import EligibilityRow, eligibility_rows
from services.domain.por_rules import normalize_partner_id
from services.por_validator import store
from services.rendering.eligibility import COLUMNS, eligibility_record

TENANT_STATES = ("active", "suspended", "deleted", "pending")


async def _distributor_choice(
    console: Console, principal: Principal, requested: str | None
) -> tuple[str | None, list]:
    """The distributor a verdict is for: the reader's own, or the operator's pick (the first
    known one by default)."""
    if not principal.is_operator:
        return principal.distributor_id, []
    known = await queries.distributors(await console.pool(store.SCHEMA))
    ids = [d["distributor_id"] for d in known]
    chosen = requested if requested in ids else (ids[0] if ids else None)
    return chosen, known


def _yes_no(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(text or "")


async def resellers(request: Request, console: Console, principal: Principal) -> Response:
    return await _resellers_page(request, console, principal, dict(request.query_params))


async def recheck_reseller(request: Request, console: Console, principal: Principal) -> Response:
    """Re-check a PLA id for the reader's distributor (an operator's pick); the page again,
    checking that id, saying what changed."""
    form = await request.form()
    partner_id = form_text(form.get("partner_id"))
    requested = form_text(form.get("distributor"))
    distributor, _ = await _distributor_choice(console, principal, requested)
    if principal.is_operator and distributor != requested:
        distributor = None  # an operator names one: never another by default
    if partner_id is None or distributor is None:
        return Response("a PLA id and a distributor are needed", 400, media_type="text/plain")
    outcome = await run_recheck(console, principal, partner_id, distributor, language(request))
    query = {"distributor": distributor, "check": partner_id}
    return await _resellers_page(request, console, principal, query, outcome)


async def _resellers_page(
    request: Request,
    console: Console,
    principal: Principal,
    q: dict[str, str],
    recheck: RecheckOutcome | None = None,
) -> Response:
    distributor, known = await _distributor_choice(console, principal, q.get("distributor"))
    region = q.get("region") or None
    countries = sorted(c for c, r in console.regions.mapping.items() if r == region)
    pool = await console.pool(store.SCHEMA)
    rows = await queries.resellers_page(
        pool,
        # A distributor sees its own partners; an operator every account in the registry.
        partnered_with=None if principal.is_operator else distributor,
        authorized=_yes_no(q.get("authorized")),
        tenant_status=q.get("status") if q.get("status") in TENANT_STATES else None,
        region=region,
        region_countries=countries,
        after=q.get("after") or None,
        limit=views.PAGE_SIZE + 1,
    )
    more, rows = len(rows) > views.PAGE_SIZE, rows[: views.PAGE_SIZE]
    check = (q.get("check") or "").strip()
    ids = [r["partner_id"] for r in rows] + ([check] if check else [])
    verdicts, checked = {}, None
    if distributor is not None:
        async with pool.acquire() as conn:
            registry = await queries.registry_slice(conn, ids, distributor, console.regions)
        lang = language(request)
        verdicts = {
            r["partner_id"]: views.reseller_verdict(r["partner_id"], distributor, registry, lang)
            for r in rows
        }
        if check:
            checked = {
                "partner_id": normalize_partner_id(check) or check,
                "verdict": views.reseller_verdict(check, distributor, registry, lang),
            }
    next_query = None
    if more:
        next_query = {k: v for k, v in q.items() if k not in ("after", "check") and v}
        next_query["after"] = rows[-1]["partner_id"]
    return render(
        console,
        request,
        principal,
        "resellers.html",
        status=recheck.status if recheck else 200,
        rows=rows,
        verdicts=verdicts,
        regions=sorted(set(console.regions.mapping.values())),
        states=TENANT_STATES,
        distributor=distributor,
        distributors=known,
        filters={k: q.get(k) or "" for k in ("authorized", "status", "region", "check")},
        region_of=lambda r: console.regions.region_for(r["country"], r["csp_region"]),
        checked=checked,
        recheck=recheck,
        next_query=next_query,
    )


def _months(text: str | None) -> int:
    try:
        return max(1, min(120, int(text or 36)))
    except ValueError:
        return 36


# The CSV reads the report this many PLA ids a query, streaming each page out.
CSV_PAGE = 1000


def _since(months: int) -> datetime:
    # The CLI's window: `porgate report eligibility --months`.
    return datetime.now(UTC) - timedelta(days=round(months * 30.4375))


async def _report_page(
    console: Console, distributor: str, since: datetime, after: str | None, limit: int
) -> tuple[list[EligibilityRow], str | None]:
    """One page of the report (the CLI's eligibility_rows over the same population) from the
    console's shared pool, and the PLA id the next page starts after (None: the last)."""
    pool = await console.pool(store.SCHEMA)
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        ids = await queries.partner_ids_on_record_page(conn, distributor, since, after, limit + 1)
        more, ids = len(ids) > limit, ids[:limit]
        registry = await queries.registry_slice(conn, ids, distributor, console.regions)
    return eligibility_rows(ids, distributor, registry), ids[-1] if more else None


async def eligibility(request: Request, console: Console, principal: Principal) -> Response:
    q = request.query_params
    distributor, known = await _distributor_choice(console, principal, q.get("distributor"))
    months = _months(q.get("months"))
    since = _since(months)
    rows, last = [], None
    if distributor is not None:
        rows, last = await _report_page(
            console, distributor, since, q.get("after") or None, views.PAGE_SIZE
        )
    next_query = None
    if last is not None:
        next_query = {"months": months, "after": last}
        if principal.is_operator:
            next_query["distributor"] = distributor
    return render(
        console,
        request,
        principal,
        "eligibility.html",
        distributor=distributor,
        distributors=known,
        months=months,
        since=since,
        columns=COLUMNS,
        records=[eligibility_record(r) for r in rows],
        next_query=next_query,
    )


async def eligibility_csv(request: Request, console: Console, principal: Principal) -> Response:
    q = request.query_params
    distributor, _ = await _distributor_choice(console, principal, q.get("distributor"))
    since = _since(_months(q.get("months")))

    async def pages() -> AsyncIterator[str]:
        out = io.StringIO()
        # The same columns and records as `porgate report eligibility --format csv`.
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        after = None
        while distributor is not None:
            rows, after = await _report_page(console, distributor, since, after, CSV_PAGE)
            writer.writerows(eligibility_record(r) for r in rows)
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if after is None:
                break
        if out.tell():
            yield out.getvalue()

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", distributor or "none")
    name = f"ResellerEligibility-{safe}-{since:%Y%m%d}.csv"
    return StreamingResponse(
        pages(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
