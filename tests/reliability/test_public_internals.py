"""What the API's port shows anyone who can reach it: no metrics (they name every
distributor and Partner Center's traffic; Prometheus reads them on the health port), the
console's security headers on the API's documentation too, and no free text echoed."""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx
import pytest
from pydantic import SecretStr

from services.api.app import create_app
from services.common.ports import free_port
from services.console.web import SECURITY_HEADERS
from services.runner import run_services
from services.settings import Settings
from tests.console.conftest import OPERATOR_KEY, console_server
from tests.console.test_access import signed_in


@pytest.fixture
async def api():
    app = create_app(Settings(api_keys=SecretStr("k" * 24 + "=dist-eu-1")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_the_api_port_serves_no_metrics(api):
    r = await api.get("/metrics")
    assert r.status_code == 404
    assert "porgate_" not in r.text


@pytest.mark.parametrize(
    "path", ["/docs", "/docs/static/swagger-ui.css", "/docs/static/porgate-docs.js"]
)
async def test_the_api_documentation_has_the_consoles_security_headers(api, path):
    r = await api.get(path)
    assert r.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (path, name)


async def test_porgate_run_api_serves_metrics_on_the_health_port_only(migrated):
    api_port, health_port = free_port(), free_port()
    settings = migrated.model_copy(
        update={
            "api_port": api_port,
            "health_port": health_port,
            "api_keys": SecretStr("k" * 24 + "=dist-eu-1"),
        }
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_services(settings, [], with_api=True, until=stop))
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            # The runner checks Kafka before it serves; on a loaded machine that takes a while.
            # Both servers: the health port's may come up after the API's.
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    await client.get(f"http://127.0.0.1:{health_port}/livez")
                    if (await client.get(f"http://127.0.0.1:{api_port}/livez")).status_code:
                        break
                assert not task.done(), task.exception()
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("porgate run api did not serve within 60 s")
            await client.post(f"http://127.0.0.1:{api_port}/v1/partners/validateresellers")
            public = await client.get(f"http://127.0.0.1:{api_port}/metrics")
            assert public.status_code == 404
            internal = await client.get(f"http://127.0.0.1:{health_port}/metrics")
            assert internal.status_code == 200
            assert "porgate_api_requests_total" in internal.text
            assert (await client.get(f"http://127.0.0.1:{api_port}/healthz")).status_code == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_the_gdap_page_shows_only_its_own_messages(migrated):
    async with console_server(migrated) as url, signed_in(url, OPERATOR_KEY) as (client, _):
        hostile = "Your session expired: call +1 555 0100 <b>now</b>"
        page = await client.get("/console/gdap", params={"done": hostile})
        assert page.status_code == 200
        assert "555 0100" not in page.text and "session expired" not in page.text
        page = await client.get("/console/gdap", params={"done": "termination", "count": "2"})
        assert re.search(r"2 termination\(s\) re-queued", page.text)
        page = await client.get("/console/gdap", params={"done": "termination", "count": "x9"})
        assert "re-queued" not in page.text
