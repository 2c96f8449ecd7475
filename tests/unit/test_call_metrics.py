"""The metrics the Graph and health alerts read: Graph calls by operation and status, and
the result of each health check."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from services.common.health import run_checks
from services.graph.auth import GlobalApp, GraphTokens
from services.graph.client import GraphClient
from services.graph.errors import GraphError


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _client(answer) -> GraphClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    tokens = GraphTokens(
        {},
        authority_url="https://login.test",
        margin_s=60,
        timeout_s=5,
        global_app=GlobalApp("https://login.test/token", "c", "s"),
        http=http,
    )
    return GraphClient(base_url="https://graph.test", tokens=tokens, client=http)


def _answering(terminate_status: int):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if terminate_status == 201:
            return httpx.Response(
                201, json={"id": "req-1", "action": "terminate", "status": "created"}
            )
        return httpx.Response(terminate_status, text="no")

    return answer


@pytest.mark.parametrize("status", [201, 404, 503])
async def test_each_graph_call_is_counted_by_operation_and_status(status) -> None:
    name = "porgate_graph_calls_total"
    before = _count(name, operation="terminate", status=str(status))
    tokens = _count(name, operation="token", status="200")
    client = _client(_answering(status))
    try:
        await client.request_termination(None, "rel-1")
    except GraphError:
        assert status != 201
    finally:
        await client.aclose()
    assert _count(name, operation="terminate", status=str(status)) == before + 1
    assert _count(name, operation="token", status="200") == tokens + 1


async def test_a_graph_connection_error_is_counted_as_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = _client(refuse)
    before = _count("porgate_graph_calls_total", operation="token", status="error")
    with pytest.raises(GraphError):
        await client.request_termination(None, "rel-1")
    await client.aclose()
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
