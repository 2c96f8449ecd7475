"""The distributor's webhook and Microsoft Graph fail (HTTP 500) and then hang: deliveries and
terminations retry with backoff, give up after their budget into a recorded failure, are
re-queued by `porgate notifications retry` / `porgate gdap retry`, and never hold back decisions."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, defaultdict

from tests.reliability import world as W
from tests.reliability.harness import (
    FakeGraph,
    Kafka,
    LocalServer,
    Webhook,
    eventually,
    fetch,
    fetchval,
    note,
    read_topic,
    run_cli,
    tally,
)

MAX_ATTEMPTS = 3
BACKOFF_INITIAL_S = 0.2


def gaps(times: list[float]) -> list[float]:
    times = sorted(times)
    return [b - a for a, b in itertools.pairwise(times)]


async def test_webhook_and_graph_outages_retry_fail_for_good_are_requeued_and_never_block_decisions(
    migrated, procs
):
    settings = migrated
    hook = Webhook(W.SECRET, mode="fail", hang_s=3.0)
    graph = FakeGraph(mode="fail", hang_s=3.0)
    gdap_events, _ = W.gdap_world(2, 3, tag="r")
    orders_500 = list(W.orders(300, "w500"))
    orders_hang = list(W.orders(60, "whang"))
    async with (
        LocalServer(hook.app()) as hook_server,
        LocalServer(graph.app()) as graph_server,
        Kafka(settings) as kafka,
    ):
        remote = {
            "notify_webhook_url": f"{hook_server.base}/hook",
            "notify_webhook_secret": W.SECRET,
            "notify_webhook_timeout_s": 0.5,
            "notify_max_attempts": MAX_ATTEMPTS,
            "graph_timeout_s": 0.5,
            "graph_max_attempts": MAX_ATTEMPTS,
            "delivery_retry_initial_s": BACKOFF_INITIAL_S,
            "delivery_retry_max_s": 2.0,
            **graph.graph_env(graph_server.base),
        }
        for name in ("order-intake", "por-validator", "gdap-revoker", "notifier"):
            procs.spawn(name, **remote)
        await kafka.send_many(W.REGISTRY, W.registry() + gdap_events)

        async def loaded():
            return (
                await fetchval(settings, "SELECT count(*) FROM por_validator.partner_accounts") >= 8
                and await fetchval(settings, "SELECT count(*) FROM gdap_revoker.gdap_relationships")
                == 6
                and await fetchval(settings, "SELECT count(*) FROM notifier.customer_assignments")
                == 6
            )

        await eventually(loaded, 60, what="registry loaded", describe=procs.report)

        # ------------------------------------------------ phase 1: both answer 500
        await kafka.send_many(W.ORDERS, orders_500)
        await kafka.send(W.REGISTRY, W.tenant("ten-r0", "suspended"), key="ten-r0")
        t_sent = time.monotonic()

        async def decided(n):
            return await fetchval(settings, "SELECT count(*) FROM por_validator.decisions") >= n

        await eventually(
            lambda: decided(len(orders_500)),
            30,
            what="orders decided during the webhook outage",
            describe=procs.report,
        )
        decide_500_s = time.monotonic() - t_sent
        assert hook.accepted_ids() == set(), (
            "the receiver was down: nothing can have been delivered"
        )
        blocked_500 = {
            W.blocked_notification_id(e["id"]) for _, e in orders_500 if W.expected_codes(e)
        }

        async def failed_for_good(ids: set[str], rels: set[str]):
            n = await fetch(
                settings,
                "SELECT notification_id, state, attempts, last_error FROM notifier.notifications"
                " WHERE notification_id = ANY($1::text[])",
                list(ids),
            )
            t = await fetch(
                settings,
                "SELECT relationship_id, state, attempts, last_error FROM"
                " gdap_revoker.terminations WHERE relationship_id = ANY($1::text[])",
                list(rels),
            )
            ok = (
                len(n) == len(ids)
                and all(r["state"] == "failed" for r in n)
                and len(t) == len(rels)
                and all(r["state"] == "failed" for r in t)
            )
            return ok and (n, t)

        rels_0 = {f"rel-r0-{j}" for j in range(3)}
        notes_500, terms_500 = await eventually(
            lambda: failed_for_good(blocked_500, rels_0),
            60,
            what="deliveries and terminations failed for good",
        )
        for r in notes_500:
            assert r["attempts"] == MAX_ATTEMPTS and r["last_error"].startswith("HTTP 500"), dict(r)
        for r in terms_500:
            assert r["attempts"] == MAX_ATTEMPTS and "500" in r["last_error"], dict(r)
        # Every attempt reached the receiver, signed; the waits between attempts grow.
        receipts = hook.by_id()
        for nid in blocked_500:
            rs = receipts[nid]
            assert len(rs) == MAX_ATTEMPTS and all(r.signed for r in rs)
            g = gaps([r.at for r in rs])
            # Never sooner than the backoff (0.2 s, then 0.4 s); the queue of 150 adds its own time.
            assert g[0] >= BACKOFF_INITIAL_S * 0.9 and g[1] >= 2 * BACKOFF_INITIAL_S * 0.9, (
                f"retried too soon: {g}"
            )
        calls = defaultdict(list)
        graph_gaps: list[list[float]] = []
        for rid, at, _ in graph.calls:
            calls[rid].append(at)
        for rid in rels_0:
            assert len(calls[rid]) == MAX_ATTEMPTS
            g = gaps(calls[rid])
            graph_gaps.append(g)
            # Few rows: the waits are the backoff itself (0.2 s, then 0.4 s), plus the poll's overhead.
            assert g[0] >= BACKOFF_INITIAL_S * 0.9 and g[1] >= 2 * BACKOFF_INITIAL_S * 0.9, (
                f"no backoff between Graph calls: {g}"
            )

        # ------------------------------------------------ phase 2: both hang past the client's timeout
        hook.mode, graph.mode = "hang", "hang"
        await kafka.send_many(W.ORDERS, orders_hang)
        await kafka.send(W.REGISTRY, W.tenant("ten-r1", "suspended"), key="ten-r1")
        t_sent = time.monotonic()
        await eventually(
            lambda: decided(len(orders_500) + len(orders_hang)),
            30,
            what="orders decided while the webhook hangs",
        )
        decide_hang_s = time.monotonic() - t_sent
        blocked_hang = {
            W.blocked_notification_id(e["id"]) for _, e in orders_hang if W.expected_codes(e)
        }
        rels_1 = {f"rel-r1-{j}" for j in range(3)}
        notes_hang, terms_hang = await eventually(
            lambda: failed_for_good(blocked_hang, rels_1),
            60,
            what="hung deliveries and terminations failed for good",
        )
        assert all("timed out" in r["last_error"] for r in notes_hang), [
            r["last_error"] for r in notes_hang
        ][:3]
        assert all("Timeout" in r["last_error"] for r in terms_hang), [
            r["last_error"] for r in terms_hang
        ]
        assert hook.accepted_ids() == set()

        # Each termination that failed for good told the distributor so, once: those notices
        # met the same outage.
        told_failed = {W.termination_failed_notification_id(rid) for rid in rels_0 | rels_1}
        await eventually(
            lambda: failed_for_good(told_failed, set()),
            60,
            what="the notices of failed terminations failed for good",
        )

        # ------------------------------------------------ the operator's view, then recovery
        listed = await asyncio.to_thread(
            run_cli, settings, "notifications", "failed", "--limit", "1000"
        )
        assert listed.returncode == 0, listed.stderr
        failed_ids = blocked_500 | blocked_hang | told_failed
        assert all(nid in listed.stdout for nid in list(failed_ids)[:20]), listed.stdout[-2000:]
        listed = await asyncio.to_thread(run_cli, settings, "gdap", "failed")
        assert listed.returncode == 0 and all(rid in listed.stdout for rid in rels_0 | rels_1), (
            listed.stdout
        )

        hook.mode, graph.mode = "ok", "ok"
        before = len(hook.receipts)
        await asyncio.sleep(1.0)
        assert len(hook.receipts) == before, "failed deliveries were retried without the command"
        retried = await asyncio.to_thread(run_cli, settings, "notifications", "retry", "--yes")
        assert (
            retried.returncode == 0
            and f"{len(failed_ids)} notification(s) re-queued" in retried.stdout
        ), retried.stdout + retried.stderr
        retried = await asyncio.to_thread(run_cli, settings, "gdap", "retry", "--yes")
        assert retried.returncode == 0 and "6 termination(s) re-queued" in retried.stdout, (
            retried.stdout
        )

        revoked_ids = {W.revoked_notification_id(rid) for rid in rels_0 | rels_1}
        expected = failed_ids | revoked_ids

        async def recovered():
            delivered = await fetchval(
                settings, "SELECT count(*) FROM notifier.notifications WHERE state = 'delivered'"
            )
            terminated = await fetchval(
                settings,
                "SELECT count(*) FROM gdap_revoker.terminations WHERE state = 'terminated'",
            )
            return (
                delivered == len(expected) and terminated == 6 and hook.accepted_ids() == expected
            )

        await eventually(
            recovered,
            60,
            what="everything delivered and terminated after the retry commands",
            describe=procs.report,
        )
        await asyncio.sleep(1.0)
        procs.check_alive()

    accepted = Counter(r.notification_id for r in hook.receipts if r.answered == 204)
    assert set(accepted) == expected and set(accepted.values()) == {1}, (
        "a notification delivered twice"
    )
    rows = await fetch(
        settings, "SELECT state, count(*) AS n FROM notifier.notifications GROUP BY state"
    )
    assert {r["state"]: r["n"] for r in rows} == {"delivered": len(expected)}
    revocations = [
        json.loads(r.value)
        for r in await read_topic(settings, W.REVOCATIONS, lambda rs: len(rs) >= 12, settle=1.0)
    ]
    assert Counter((e["type"], e["data"]["relationshipId"]) for e in revocations) == {
        (kind, rid): 1
        for rid in rels_0 | rels_1
        for kind in ("gdap.privileges.revoked.v1", "gdap.termination.failed.v1")
    }
    assert await fetchval(settings, "SELECT count(*) FROM por_validator.decisions") == len(
        orders_500
    ) + len(orders_hang)

    attempts = sum(len(rs) for rs in hook.by_id().values()) + len(graph.calls)
    tally(
        **{
            "events pushed": len(W.registry())
            + len(gdap_events)
            + len(orders_500)
            + len(orders_hang)
            + 2,
            "faults injected": 4,
            "lost": 0,
        }
    )
    note(
        f"remote outages: webhook and Graph answered 500, then hung; {len(failed_ids)} notifications and 6 "
        f"terminations failed for good after {MAX_ATTEMPTS} attempts with growing waits ({attempts} HTTP attempts "
        f"in all; Graph waits {[[round(x, 2) for x in g] for g in graph_gaps]}); meanwhile {len(orders_500)} orders were decided in {decide_500_s:.1f}s and {len(orders_hang)} in "
        f"{decide_hang_s:.1f}s; `notifications retry` and `gdap retry` delivered and terminated each exactly once"
    )
