"""The compliance API's agreementstatus: Microsoft's documented request and answer, through
the client's usual conventions (app+user token, ids, errors)."""

from __future__ import annotations

import httpx
import pytest

from services.partner_center.errors import NotConfigured, Rejected
from services.partner_center.standin import AGREEMENT_STATUS


async def test_agreement_status_asks_by_pla_id_with_an_app_user_token_and_reads_the_answer(
    standin, make_client
):
    standin.tenants["tenant-a"].agreements = {"2222": False}
    client = make_client()

    signed = await client.agreement_status("dist-a", "1111", event_id="evt-1")
    unsigned = await client.agreement_status("dist-a", "2222")

    assert (signed.partner_id, signed.signed) == ("1111", True)
    assert (unsigned.partner_id, unsigned.signed) == ("2222", False)
    first, _ = standin.calls_to(AGREEMENT_STATUS)
    assert first.tenant_id == "tenant-a"
    assert first.headers["ms-contract-version"] == "v1"
    assert signed.call.correlation_id == first.headers["ms-correlationid"]
    assert signed.call.request_id == first.headers["ms-requestid"]


async def test_a_distributor_without_a_refresh_token_cannot_ask_and_sends_nothing(
    standin, make_client
):
    with pytest.raises(NotConfigured, match="refreshToken"):
        await make_client().agreement_status("dist-b", "1111")
    assert standin.calls[AGREEMENT_STATUS] == 0


async def test_microsofts_documented_400_is_a_rejection_with_its_code_and_description(
    standin, make_client
):
    client = make_client()
    with pytest.raises(Rejected, match="MPN Id must be numeric") as raised:
        await client.agreement_status("dist-a", "12a4")
    assert raised.value.code == "2000"


async def test_the_stand_in_answers_the_documented_failures_of_the_request(standin, base_url):
    # Microsoft's page: neither id (2001), both ids (2000); app-only tokens are refused.
    async with httpx.AsyncClient(base_url=base_url) as http:
        form = {
            "grant_type": "refresh_token",
            "client_id": "client-a",
            "client_secret": "secret-a",
            "refresh_token": "rt-a-0",
            "scope": "https://api.partnercenter.microsoft.com/.default",
        }
        token = (await http.post("/tenant-a/oauth2/v2.0/token", data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        path = "/v1/compliance/csp/agreementstatus"
        neither = await http.get(path, headers=headers)
        both = await http.get(path, params={"mpnId": "1111", "tenantId": "t"}, headers=headers)
    assert (neither.status_code, neither.json()["code"]) == (400, 2001)
    assert (both.status_code, both.json()["code"]) == (400, 2000)
