"""The metrics the Graph and health alerts read: Graph calls by operation and status, and
the result of each health check."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from services.common.health import run_checks
from services.gdap_revoker.gateway import GatewayError, GraphGateway


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _gateway(terminate_status: int) -> GraphGateway:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(terminate_status, text="no")

    return GraphGateway(
        base_url="https://graph.test",
        token_url="https://login.test/token",
        client_id="c",
        client_secret="s",
        client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
    )


@pytest.mark.parametrize("status", [204, 404, 503])
async def test_each_graph_call_is_counted_by_operation_and_status(status) -> None:
    name = "porgate_graph_calls_total"
    before = _count(name, operation="terminate", status=str(status))
    tokens = _count(name, operation="token", status="200")
    gateway = _gateway(status)
    try:
        await gateway.terminate("rel-1", "cust", "tenant", "suspended")
    except GatewayError:
        assert status == 503
    finally:
        await gateway.aclose()
    assert _count(name, operation="terminate", status=str(status)) == before + 1
    assert _count(name, operation="token", status="200") == tokens + 1


async def test_a_graph_connection_error_is_counted_as_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    gateway = GraphGateway(
        base_url="https://graph.test",
        token_url="https://login.test/token",
        client_id="c",
        client_secret="s",
        client=httpx.AsyncClient(transport=httpx.MockTransport(refuse)),
    )
    before = _count("porgate_graph_calls_total", operation="token", status="error")
    with pytest.raises(GatewayError):
        await gateway.terminate("rel-1", "cust", "tenant", "suspended")
    await gateway.aclose()
    assert _count("porgate_graph_calls_total", operation="token", status="error") == before + 1


async def test_each_health_check_sets_its_gauge_to_its_last_result() -> None:
    async def ok() -> None:
        pass

    async def down() -> None:
        raise ConnectionError("refused")

    healthy, _ = await run_checks({"broker": ok, "database:test": down})
    assert not healthy
    assert _count("porgate_health_check_ok", check="broker") == 1
    assert _count("porgate_health_check_ok", check="database:test") == 0
    await run_checks({"database:test": ok})
    assert _count("porgate_health_check_ok", check="database:test") == 1
