"""The console's eligibility page: views share the console's pool (parallel views cannot use
up PostgreSQL's connections), and the report is read a page at a time, the CSV too."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import asyncpg

from services.console.views import PAGE_SIZE
from tests.console.conftest import KEY_EU, console_server
from tests.console.test_access import signed_in
from tests.e2e import registry_data as R

RESELLERS = PAGE_SIZE * 2 + 7  # three pages


async def population(settings) -> list[str]:
    """RESELLERS PLA accounts, each the POR on one of the EU distributor's orders."""
    conn = await asyncpg.connect(settings.database_url)
    pids = [f"{2_000_000 + n}" for n in range(RESELLERS)]
    try:
        await conn.execute(
            "INSERT INTO por_validator.distributors (distributor_id, name, country, csp_region,"
            " as_of) VALUES ($1, 'EU', 'DE', 'Europe', now())",
            R.DIST,
        )
        await conn.executemany(
            "INSERT INTO por_validator.partner_accounts (partner_id, account_type, status, name,"
            " reseller_tenant_id, as_of) VALUES ($1, 'PLA', 'active', $1, NULL, now())",
            [(p,) for p in pids],
        )
        await conn.executemany(
            "INSERT INTO por_validator.decisions (decision_id, source_event_id,"
            " transaction_kind, order_id, distributor_id, customer_id, outcome, basis,"
            " error_codes, requested_at, decided_at, request, decision) VALUES ($1, $1,"
            " 'new_order', $1, $2, 'cust', 'blocked', 'validated', '{900400}', now(), now(),"
            " '{}', '{}')",
            [(f"dec-{p}", R.DIST) for p in pids],
        )
        await conn.executemany(
            "INSERT INTO por_validator.decision_lines (decision_id, line_item_id,"
            " partner_id_on_record, distributor_id, decided_at, error_codes)"
            " VALUES ($1, '1', $2, $3, now(), '{900400}')",
            [(f"dec-{p}", f" {p} ", R.DIST) for p in pids],
        )
    finally:
        await conn.close()
    return pids


async def sessions_opened(monitor: asyncpg.Connection) -> int:
    """Sessions PostgreSQL has opened to the database so far (its statistics are flushed
    when a session ends, at the latest: wait, then read a fresh snapshot)."""
    await asyncio.sleep(1.5)
    await monitor.execute("SELECT pg_stat_clear_snapshot()")
    return await monitor.fetchval(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    )


def partner_ids(page: str) -> list[str]:
    return re.findall(r"<td>(2\d{6})</td>", page)


async def test_eligibility_views_share_one_pool_and_read_the_report_a_page_at_a_time(migrated):
    settings = migrated
    pids = await population(settings)
    async with console_server(settings) as url, signed_in(url, KEY_EU) as (client, _):
        first = await client.get("/console/eligibility")
        assert first.status_code == 200, first.text
        monitor = await asyncpg.connect(settings.database_url)
        try:
            before = await sessions_opened(monitor)
            probe = await asyncpg.connect(settings.database_url)
            await probe.close()
            assert await sessions_opened(monitor) == before + 1  # the counter counts
            # Parallel views: no connection opened (and closed) per view.
            views = await asyncio.gather(*(client.get("/console/eligibility") for _ in range(12)))
            assert all(v.status_code == 200 for v in views)
            assert await sessions_opened(monitor) - (before + 1) <= 4  # at most the pool's
        finally:
            await monitor.close()

        # Page by page, each at most PAGE_SIZE rows, every reseller once, in id order.
        shown, page = [], first
        for _ in range(RESELLERS):
            rows = partner_ids(page.text)
            assert 0 < len(rows) <= PAGE_SIZE
            shown += rows
            found = re.search(r'<a rel="next" href="([^"]+)"', page.text)
            if found is None:
                break
            page = await client.get(found.group(1).replace("&amp;", "&"))
            assert page.status_code == 200
        assert shown == sorted(pids)

        # The CSV is the whole report, read in pages too.
        download = await client.get("/console/eligibility.csv")
        assert download.status_code == 200
        records = list(csv.DictReader(io.StringIO(download.text)))
        assert [r["PartnerId"] for r in records] == sorted(pids)
