"""Whose Graph app a call carries: the global app never answers for a distributor once the
credentials file names any, so another tenant's list cannot confirm a revocation."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from services.graph.auth import GlobalApp, GraphTokens
from services.graph.errors import GraphError
from services.partner_center.credentials import DistributorCredentials


def _tokens(credentials: dict) -> tuple[GraphTokens, list[str]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"access_token": "global", "expires_in": 3600})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    tokens = GraphTokens(
        credentials,
        authority_url="https://login.test",
        margin_s=60,
        timeout_s=5,
        global_app=GlobalApp("https://login.test/global/token", "c", "s"),
        http=http,
    )
    return tokens, asked


FILE = {"dist-a": DistributorCredentials("dist-a", "tenant-a", "app-a", SecretStr("secret"))}


@pytest.mark.parametrize("distributor_id", [None, "dist-unlisted"])
async def test_unknown_or_unlisted_distributor_fails_for_good_beside_a_credentials_file(
    distributor_id,
) -> None:
    tokens, asked = _tokens(FILE)
    try:
        assert not tokens.configured(distributor_id)
        with pytest.raises(GraphError) as err:
            await tokens.token(distributor_id)
        assert err.value.permanent
        assert "no Graph credentials for distributor" in str(err.value)
        assert asked == []  # the global app was never asked
    finally:
        await tokens.aclose()


async def test_without_a_credentials_file_the_global_app_answers_for_everyone() -> None:
    tokens, asked = _tokens({})
    try:
        assert tokens.configured(None)
        assert await tokens.token(None) == "global"
        assert await tokens.token("dist-x") == "global"
        assert len(asked) == 1
    finally:
        await tokens.aclose()
