"""/healthz: healthy, degraded (still 200: restarting would not help) and unhealthy."""

import httpx
from starlette.applications import Starlette

from services.common.health import health_routes


async def ok() -> None:
    return None


async def down() -> None:
    raise ConnectionError("refused")


async def get(checks, degraded=dict, advisory=None) -> httpx.Response:
    app = Starlette(routes=health_routes(checks, degraded, advisory))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/healthz")


async def test_every_check_passing_is_ok():
    r = await get({"database": ok})
    assert (r.status_code, r.json()["status"]) == (200, "ok")


async def test_a_degraded_service_says_why_and_stays_ready():
    r = await get({"database": ok}, lambda: {"partner-center:dist-eu-1": "unreachable for 90 s"})
    assert (r.status_code, r.json()["status"]) == (200, "degraded")
    assert r.json()["degraded"] == {"partner-center:dist-eu-1": "unreachable for 90 s"}


async def test_a_failing_check_is_unhealthy_whatever_else_is_degraded():
    r = await get({"database": down}, lambda: {"x": "y"})
    assert (r.status_code, r.json()["status"]) == (503, "unhealthy")
    assert r.json()["checks"]["database"] == "unavailable (ConnectionError)"


async def test_a_failing_advisory_check_is_degraded_not_unhealthy():
    # order-intake's database: the process goes on consuming without it.
    r = await get({"broker": ok}, advisory={"database:order_intake": down})
    assert (r.status_code, r.json()["status"]) == (200, "degraded")
    assert r.json()["degraded"] == {"database:order_intake": "unavailable (ConnectionError)"}
    assert r.json()["checks"] == {
        "broker": "ok",
        "database:order_intake": "unavailable (ConnectionError)",
    }
    r = await get({"broker": down}, advisory={"database:order_intake": ok})
    assert (r.status_code, r.json()["status"]) == (503, "unhealthy")
    r = await get({"broker": ok}, advisory={"database:order_intake": ok})
    assert (r.status_code, r.json()["status"]) == (200, "ok")


async def test_a_failing_check_names_no_host_or_user_but_the_log_does(caplog):
    async def leaky() -> None:
        raise OSError(
            "Multiple exceptions: [Errno 111] Connect call failed ('db-internal.corp', 5432);"
            ' password authentication failed for user "porgate_admin"'
        )

    r = await get({"database": leaky})
    assert r.status_code == 503
    assert "db-internal" not in r.text and "porgate_admin" not in r.text and "5432" not in r.text
    assert r.json()["checks"]["database"] == "unavailable (OSError)"
    # The detail, for the operator, in the log.
    assert any("db-internal.corp" in getattr(r, "error", "") for r in caplog.records)
