"""`porgate doctor` on the real servers, with Entra ID and Partner Center played by the stand-in
and a local webhook receiver: all good, then each failure with its fix and exit status 1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid

import asyncpg
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from services.common.health import HttpServer
from services.common.ports import free_port
from services.common.topic_creation import create_topics
from services.partner_center.standin import PartnerCenterStandin, StandinTenant, serving
from tests.e2e.test_cli import porgate


def standin() -> PartnerCenterStandin:
    return PartnerCenterStandin(
        {
            "tenant-a": StandinTenant("client-a", "secret-a", refresh_token="rt-a-0"),
            "tenant-b": StandinTenant("client-b", "secret-b"),
        }
    )


def credentials_file(tmp_path, secret_b: str = "secret-b") -> str:
    path = tmp_path / "credentials.json"
    path.write_text(
        json.dumps(
            {
                "dist-a": {
                    "tenantId": "tenant-a",
                    "clientId": "client-a",
                    "clientSecret": "secret-a",
                    "refreshToken": "rt-a-0",
                },
                "dist-b": {
                    "tenantId": "tenant-b",
                    "clientId": "client-b",
                    "clientSecret": secret_b,
                },
            }
        )
    )
    return str(path)


@contextlib.asynccontextmanager
async def receiver(status: int):
    port = free_port()
    app = Starlette(
        routes=[Route("/hook", lambda r: Response(status_code=status), methods=["GET", "POST"])]
    )
    server = HttpServer(app, "127.0.0.1", port)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await server.stop()


def doctor(env: dict[str, str]) -> tuple[int, dict]:
    result = porgate("doctor", "--format", "json", env=env)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout)


def by_subject(report: dict) -> dict[str, dict]:
    return {f"{c['area']} {c['subject']}": c for c in report["checks"]}


async def test_doctor_says_all_is_well_on_a_system_set_up_as_documented(migrated, kafka, tmp_path):
    prefix = f"dr{uuid.uuid4().hex[:8]}."
    await create_topics(kafka, prefix=prefix)
    async with serving(standin()) as entra, receiver(204) as hook:
        env = {
            **os.environ,
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "PORGATE_DATABASE_URL": migrated.database_url,
            "PORGATE_TOPIC_PREFIX": prefix,
            "PORGATE_ENTRA_AUTHORITY_URL": entra,
            "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": credentials_file(tmp_path),
            "PORGATE_NOTIFY_WEBHOOK_URL": hook,
        }
        status, report = await asyncio.to_thread(doctor, env)
    checks = by_subject(report)
    assert status == 0, [c for c in report["checks"] if c["status"] == "fail"]
    assert report["ok"] is True
    assert checks[f"topics {prefix}csp.orders.v1"]["status"] == "ok"
    assert checks["postgresql schema por_validator"]["status"] == "ok"
    assert checks["partner-center dist-a app-only"]["status"] == "ok"
    assert checks["partner-center dist-a app+user"]["status"] == "ok"
    # dist-b has no refresh token: the sync cannot list its resellers, a warning.
    assert checks["partner-center dist-b app+user"]["status"] == "warn"
    assert checks["graph dist-a"]["status"] == "ok"
    assert checks[f"webhook {hook}"]["status"] == "ok"
    # Tansu grants no producer id: said, not failed.
    assert checks["kafka idempotent producer"]["status"] == "warn"
    # Tansu lists no ACL and porgate has no SASL user here: nothing to decide by.
    assert checks["acls consumer groups and topics"]["status"] == "not checkable"


async def test_each_failure_is_reported_with_its_fix_and_the_exit_status_is_1(
    fresh_database, kafka, tmp_path
):
    prefix = f"dr{uuid.uuid4().hex[:8]}."
    await create_topics(kafka, prefix=prefix, partitions=2)
    async with serving(standin()) as entra, receiver(410) as hook:
        env = {
            **os.environ,
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "PORGATE_DATABASE_URL": fresh_database,  # never migrated
            "PORGATE_TOPIC_PREFIX": prefix,
            "PORGATE_ENTRA_AUTHORITY_URL": entra,
            "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": credentials_file(tmp_path, "wrong"),
            "PORGATE_NOTIFY_WEBHOOK_URL": hook,
        }
        status, report = await asyncio.to_thread(doctor, env)
    checks = by_subject(report)
    assert status == 1 and report["ok"] is False
    orders = checks[f"topics {prefix}csp.orders.v1"]
    assert orders["status"] == "fail" and "2 partitions, the contract says 6" in orders["detail"]
    notifier = checks["postgresql schema notifier"]
    assert notifier["status"] == "fail" and notifier["fix"] == "porgate migrate"
    refused = checks["partner-center dist-b app-only"]
    assert refused["status"] == "fail" and "invalid_client" in refused["detail"]
    assert "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE" in refused["fix"]
    gone = checks[f"webhook {hook}"]
    assert gone["status"] == "fail" and "410" in gone["detail"]
    assert all(c["fix"] for c in report["checks"] if c["status"] == "fail")


async def test_a_webhook_endpoint_the_notifier_disabled_is_a_failure(migrated, kafka, tmp_path):
    async with receiver(204) as hook:
        conn = await asyncpg.connect(migrated.database_url)
        try:
            await conn.execute(
                "INSERT INTO notifier.webhook_endpoints (url, disabled_at, disabled_reason)"
                " VALUES ($1, now(), '410 Gone')",
                hook,
            )
        finally:
            await conn.close()
        env = {
            **os.environ,
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "PORGATE_DATABASE_URL": migrated.database_url,
            "PORGATE_NOTIFY_WEBHOOK_URL": hook,
        }
        status, report = await asyncio.to_thread(doctor, env)
    disabled = by_subject(report)[f"webhook {hook}"]
    assert status == 1
    assert disabled["status"] == "fail" and "disabled by the notifier" in disabled["detail"]
    assert disabled["fix"] == "once the receiver is back: porgate notifications enable"


async def test_doctor_text_names_a_wrong_broker_in_one_line_with_its_fix(tmp_path):
    env = {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "PORGATE_DATABASE_URL": f"postgresql://x@127.0.0.1:{free_port()}/x",
    }
    result = await asyncio.to_thread(porgate, "doctor", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "cannot connect" in result.stdout
    assert "fix: check PORGATE_KAFKA_BOOTSTRAP_SERVERS" in result.stdout
