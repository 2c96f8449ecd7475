"""/healthz: healthy, degraded (still 200: restarting would not help) and unhealthy."""

import httpx
from starlette.applications import Starlette

from services.common.health import health_routes


async def ok() -> None:
    return None


async def down() -> None:
    raise ConnectionError("refused")


async def get(checks, degraded=dict) -> httpx.Response:
    app = Starlette(routes=health_routes(checks, degraded))
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
    assert "refused" in r.json()["checks"]["database"]
