"""Explanations agree with the validator: on a generated registry loaded through por-validator,
the API (en and ja), `porgate explain` and the walks attached to blocked decisions all give
the codes por-validator decided, with the facts' as-of times and setting events."""

from __future__ import annotations

import asyncio
import json
import os
import random
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from contracts.errors import describe
from tests.e2e import registry_data as R
from tests.e2e.test_cli import porgate
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, api_client, envelope, eventually, running

KEY_EU, KEY_JA = "k-eu-secret-4f2a9c1e7b3d", "k-ja-secret-8d6b0e2f4a1c"
DISTRIBUTORS = (R.DIST, R.DIST_JA)
T0 = datetime(2026, 1, 2, 8, tzinfo=UTC)


def generated_registry(seed: int, resellers: int = 24) -> tuple[list[dict], list[str]]:
    """Registry events of `resellers` resellers with random facts, each event at its own
    time, and the PLA ids to validate (every account, one unknown id, one malformed)."""
    rnd = random.Random(seed)
    at = iter(T0 + timedelta(seconds=i) for i in range(10_000))

    def event(event_type: str, data: dict) -> dict:
        return envelope(event_type, data, time_=next(at).isoformat())

    events = [
        event(
            "csp.distributor.upserted.v1",
            {"distributorId": R.DIST, "name": "EU", "country": "DE"},
        ),
        event(
            "csp.distributor.upserted.v1",
            {"distributorId": R.DIST_JA, "name": "JP", "country": "JP", "preferredLanguage": "ja"},
        ),
    ]
    pids = []
    for i in range(resellers):
        tid, pid = f"ten-g{i}", str(5_000_000 + i)
        if rnd.random() < 0.9:  # else the account names a tenant the registry never saw
            tenant = {
                "resellerTenantId": tid,
                "name": tid,
                "kind": rnd.choice(["csp_indirect_reseller"] * 3 + ["direct_bill"]),
                "status": rnd.choice(["active"] * 4 + ["suspended", "pending_onboarding"]),
                "indirectResellerAuthorized": rnd.random() < 0.8,
                "country": rnd.choice(["DE", "DE", "FR", "JP", "US"]),
            }
            events.append(event("csp.reseller-tenant.upserted.v1", tenant))
        account = {
            "partnerId": pid,
            "accountType": "PLA" if rnd.random() < 0.9 else "PGA",
            "status": "active" if rnd.random() < 0.85 else "inactive",
            "name": f"Reseller {pid}",
            "resellerTenantId": tid if rnd.random() < 0.95 else None,
        }
        events.append(event("csp.partner-account.upserted.v1", account))
        for did in DISTRIBUTORS:
            status = rnd.choice(["active", "active", "removed", "requested", None])
            if status is not None:
                partnership = {"distributorId": did, "resellerTenantId": tid, "status": status}
                events.append(event("csp.partnership.upserted.v1", partnership))
        pids.append(pid)
    return events, [*pids, "9999998", " 12ab "]


async def decided(bus: Bus, pids: list[str]) -> tuple[dict, dict]:
    """Send one order per (PLA id, distributor); the codes por-validator decided, and the
    blocked lines' decision data, by (PLA id, distributor)."""
    sent = 0
    for did in DISTRIBUTORS:
        for i, pid in enumerate(pids):
            order_id = f"ord-{did}-{i}"
            await bus.send("csp.orders.v1", R.order(order_id, pid, dist=did), key=order_id)
            sent += 1
    decisions = await bus.events("por.decisions.v1", sent, timeout=60)
    codes, lines = {}, {}
    for d in decisions:
        data = d["data"]
        line = data["lines"][0]
        key = (line["partnerIdOnRecord"], data["distributorId"])
        codes[key] = line["errorCodes"]
        lines[key] = line
    return codes, lines


async def test_api_cli_and_decisions_explain_the_validators_codes_on_a_generated_registry(
    migrated,
):
    settings = migrated
    events, pids = generated_registry(seed=5)
    accounts = {e["data"]["partnerId"]: e["id"] for e in events if "accountType" in e["data"]}
    event_ids = {e["id"] for e in events}
    partnerships: dict[str, set[str]] = {}
    for e in events:
        if e["type"] == "csp.partnership.upserted.v1":
            partnerships.setdefault(e["data"]["distributorId"], set()).add(e["id"])
    async with Bus(settings) as bus, running(settings, ["order-intake", "por-validator"]):
        await load_registry(bus, events)
        await registry_loaded(settings, len(accounts))
        codes, lines = await decided(bus, pids)
    assert any(codes.values()) and not all(codes.values()), "a mix of valid and blocked"
    # The seed gives every code of the table somewhere.
    assert {c for cs in codes.values() for c in cs} == {
        800016,
        900151,
        900400,
        900154,
        900414,
        900152,
    }

    # Each blocked line carries the walk: its failed steps give the line's codes; its facts
    # name the events that set them, but only for the distributor's own rows: an account or a
    # tenant is every distributor's, and another's sync may have set it.
    for (pid, did), line in lines.items():
        if not line["errorCodes"]:
            assert line["explanation"] is None
            continue
        steps = line["explanation"]
        assert [s["step"] for s in steps] == list(range(1, 10))
        failed = {s["errorCode"] for s in steps if s["outcome"] == "fail"}
        assert failed == set(line["errorCodes"]), (pid, did, steps)
        for s in steps:
            for fact in s["facts"]:
                assert fact["eventId"] is None or fact["eventId"] in event_ids
                if fact["fact"].startswith(("partnerAccount.", "resellerTenant.")):
                    assert fact["eventId"] is None and fact["asOf"] is None, fact
                    assert fact["eventId"] not in accounts.values()
                if fact["fact"] == "partnership.active" and fact["eventId"] is not None:
                    assert fact["eventId"] in partnerships[did], (pid, did, fact)

    keys = f"{KEY_EU}={R.DIST},{KEY_JA}={R.DIST_JA}"
    async with api_client(settings, keys) as client:
        for did, key in ((R.DIST, KEY_EU), (R.DIST_JA, KEY_JA)):
            for headers, language in (
                ({"Accept-Language": "en-US,en;q=0.9"}, "en"),
                ({"X-Locale": "ja-JP", "Accept-Language": "en"}, "ja"),
            ):
                for pid in pids:
                    r = await client.get(
                        f"/v1/partners/{pid}/explanation",
                        headers={"Authorization": f"Bearer {key}", **headers},
                    )
                    assert r.status_code == 200, r.text
                    body = r.json()
                    assert body["distributorId"] == did and body["language"] == language
                    assert body["errorCodes"] == codes[(pid, did)], (pid, did, body)
                    for step in body["steps"]:
                        if step["outcome"] == "fail":
                            text = describe(step["errorCode"], language)
                            assert step["message"] == text.message
                            assert step["remediation"] == list(text.remediation)
                    # Provenance: the same facts, set by the same events, as the decision's walk.
                    if codes[(pid, did)]:
                        decided_facts = [
                            (f["fact"], f["value"], f["eventId"])
                            for s in lines[(pid, did)]["explanation"]
                            for f in s["facts"]
                        ]
                        assert [
                            (f["fact"], f["value"], f["eventId"])
                            for s in body["steps"]
                            for f in s["facts"]
                        ] == decided_facts
        r = await client.get(f"/v1/partners/{R.VALID}/explanation")
        assert r.status_code == 401

    env = {
        **os.environ,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_LOG_LEVEL": "WARNING",
    }
    blocked = next(p for p in pids if codes[(p, R.DIST)] and codes[(p, R.DIST)] != [800016])
    for pid, did, lang in ((blocked, R.DIST, "en"), (blocked, R.DIST_JA, "ja")):
        result = await asyncio.to_thread(
            porgate,
            "explain",
            pid,
            "--distributor",
            did,
            "--lang",
            lang,
            "--format",
            "json",
            env=env,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        out = json.loads(result.stdout)
        assert out["errorCodes"] == codes[(pid, did)] and out["language"] == lang
    result = await asyncio.to_thread(
        porgate, "explain", blocked, "--distributor", R.DIST_JA, "--lang", "ja", env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    first = codes[(blocked, R.DIST_JA)][0] if codes[(blocked, R.DIST_JA)] else None
    assert "条件" in result.stdout and str(first) in result.stdout
    if first is not None:
        assert describe(first, "ja").remediation[0] in result.stdout.replace("\n", "")


async def test_a_blocked_transactions_notification_carries_its_explanation_in_the_distributors_language(
    migrated,
):
    async with Receiver(SECRET) as receiver:
        settings = migrated.model_copy(
            update={
                "notify_webhook_url": receiver.url,
                "notify_webhook_secret": SecretStr(SECRET),
            }
        )
        async with (
            Bus(settings) as bus,
            running(settings, ["order-intake", "por-validator", "notifier"]),
        ):
            await load_registry(bus)
            await registry_loaded(settings, 8)
            await bus.send(
                "csp.orders.v1",
                R.order("ord-ja", R.VALID, R.SUSPENDED_TENANT, dist=R.DIST_JA),
                key="ord-ja",
            )
            await eventually(lambda: _received(receiver), timeout=30, what="a notification")
        payload = json.loads(receiver.requests[0]["body"])
    assert payload["kind"] == "transaction_blocked" and payload["language"] == "ja"
    by_line = {line["partnerIdOnRecord"]: line for line in payload["lines"]}
    for pid, line in by_line.items():
        steps = line["explanation"]
        failed = [s for s in steps if s["outcome"] == "fail"]
        assert {s["errorCode"] for s in failed} == {e["code"] for e in line["errors"]}, pid
        for s in failed:
            assert s["message"] == describe(s["errorCode"], "ja").message
        assert all(s["condition"] for s in steps)


async def _received(receiver: Receiver) -> bool:
    return bool(receiver.requests)
