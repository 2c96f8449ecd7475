"""The console with a million decisions in PostgreSQL: page times of the overview, a search
and a transaction page, as a signed-in operator, through the API process's /console.

The decisions are written by SQL (INSERT ... SELECT over generate_series) straight into
por_validator's tables, not decided by the pipeline: a million orders through the services
would take the whole run, and the pages read only the tables. They span 30 days (about
33,000 a day), over the three demo distributors and the registry's PLA ids, one in ten
blocked, each with one line; then VACUUM ANALYZE, as autovacuum would have done by then.
"""

from __future__ import annotations

import random
import re
import sys
import time

import asyncpg

from benchmarks.processes import Ctx, Proc, fresh_database, log, porgate_env
from benchmarks.stats import latency_summary

OPERATOR_KEY = "bench-operator-key-0001"

# $1 decisions over the 30 days before now; PLA ids from the registry the phase copied.
_LOAD = """
WITH pids AS (SELECT array_agg(partner_id ORDER BY partner_id) AS ids FROM partner_accounts),
gen AS (
  SELECT i,
         (ARRAY['dist-eu-1', 'dist-jp-1', 'dist-us-1'])[1 + i % 3] AS distributor_id,
         pids.ids[1 + ((i::bigint * 7919) % array_length(pids.ids, 1))::int] AS pid,
         now() - make_interval(secs => (i::float8 / $1) * 30 * 86400) AS decided_at,
         CASE WHEN i % 10 = 0 THEN
           (ARRAY[800016, 900151, 900400, 900154, 900414, 900152])[1 + (i / 10) % 6]
         END AS code
  FROM generate_series(1, $1) AS i, pids
)
INSERT INTO decisions (decision_id, source_event_id, transaction_kind, order_id, subscription_id,
  change_id, distributor_id, customer_id, outcome, basis, error_codes, primary_error_code,
  supersedes_decision_id, requested_at, decided_at, request, decision)
SELECT 'bench-dec-' || i, 'bench-evt-' || i, 'new_order', 'bench-ord-' || i, NULL, NULL,
  distributor_id, 'cust-' || (i % 5000), CASE WHEN code IS NULL THEN 'accepted' ELSE 'blocked' END,
  'validated', CASE WHEN code IS NULL THEN '{}'::int[] ELSE ARRAY[code] END, code, NULL,
  decided_at, decided_at,
  jsonb_build_object('orderId', 'bench-ord-' || i, 'distributorId', distributor_id),
  jsonb_build_object('decisionId', 'bench-dec-' || i, 'outcome',
    CASE WHEN code IS NULL THEN 'accepted' ELSE 'blocked' END, 'authority', 'registry',
    'lines', jsonb_build_array(jsonb_build_object('lineItemId', '1', 'partnerIdOnRecord', pid,
      'errorCodes', CASE WHEN code IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(code) END)))
FROM gen
"""
_LOAD_LINES = """
INSERT INTO decision_lines (decision_id, line_item_id, partner_id_on_record, distributor_id,
  decided_at, error_codes)
SELECT d.decision_id, '1', d.decision -> 'lines' -> 0 ->> 'partnerIdOnRecord', d.distributor_id,
  d.decided_at, d.error_codes
FROM decisions d WHERE d.decision_id LIKE 'bench-dec-%'
"""


async def load_decisions(url: str, count: int) -> dict:
    conn = await asyncpg.connect(url, server_settings={"search_path": "por_validator"})
    try:
        t0 = time.perf_counter()
        await conn.execute(_LOAD, count)
        await conn.execute(_LOAD_LINES)
        loaded = time.perf_counter() - t0
        await conn.execute("VACUUM ANALYZE decisions")
        await conn.execute("VACUUM ANALYZE decision_lines")
        sample = await conn.fetch(
            "SELECT decision_id, order_id, decision -> 'lines' -> 0 ->> 'partnerIdOnRecord' AS pid"
            " FROM decisions TABLESAMPLE SYSTEM (1) LIMIT 500"
        )
        size = await conn.fetchval(
            "SELECT pg_size_pretty(pg_total_relation_size('decisions')"
            " + pg_total_relation_size('decision_lines'))"
        )
    finally:
        await conn.close()
    return {
        "decisions": count,
        "load_s": round(loaded, 1),
        "vacuum_analyze_s": round(time.perf_counter() - t0 - loaded, 1),
        "tables_and_indexes": size,
        "sample": [dict(r) for r in sample],
    }


async def console_phase(ctx: Ctx, decisions: int, requests: int) -> dict:
    import httpx

    from services.catalog import migrate_all
    from services.common.ports import free_port
    from services.common.topic_creation import create_topics
    from services.settings import Settings

    url = await fresh_database(ctx, f"{ctx.run_id}_console")
    # The template holds the services under test; the console reads the notifier's and
    # gdap-revoker's tables too.
    settings = Settings(database_url=url)
    await migrate_all(settings)
    log(f"console: loading {decisions:,} decisions")
    loaded = await load_decisions(url, decisions)
    sample = loaded.pop("sample")
    log(f"console: loaded in {loaded['load_s']} s ({loaded['tables_and_indexes']})")
    await create_topics(ctx.bootstrap)
    port = free_port()
    env = porgate_env(
        ctx,
        prefix="",
        database_url=url,
        api_keys="bench-api-key-000000001=dist-eu-1",
        operator_keys=OPERATOR_KEY,
        api_port=str(port),
        api_host="127.0.0.1",
    )
    proc = await Proc.start(
        "console",
        [sys.executable, "-m", "benchmarks.services_proc", "api"],
        env,
        ctx.out_dir / "console.log",
    )
    rng = random.Random(15)
    result: dict = {"load": loaded, "requests_per_page": requests, "reader": "operator"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            form = await client.get("/console/sign-in")
            token = re.search(r'name="sign_in_token" value="([^"]+)"', form.text).group(1)
            r = await client.post(
                "/console/sign-in", data={"sign_in_token": token, "key": OPERATOR_KEY}
            )
            assert r.status_code == 303, r.text
            pages = {
                "overview": lambda: "/console/",
                "search by PLA id": lambda: (
                    f"/console/transactions?by=pla&q={rng.choice(sample)['pid']}"
                ),
                "search by order id": lambda: (
                    f"/console/transactions?by=order&q={rng.choice(sample)['order_id']}"
                ),
                "blocked with a code, one distributor": lambda: (
                    "/console/transactions?outcome=blocked&code=900400&distributor=dist-jp-1"
                ),
                "transaction page": lambda: (
                    f"/console/transactions/{rng.choice(sample)['decision_id']}"
                ),
            }
            for name, path in pages.items():
                for _ in range(5):  # warm-up: pools, prepared statements, templates
                    await client.get(path())
                times = []
                for _ in range(requests):
                    t = time.perf_counter()
                    r = await client.get(path())
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, (name, r.status_code)
                result[name] = latency_summary(times)
                log(f"console: {name}: {result[name]}")
    finally:
        await proc.stop()
    return result
