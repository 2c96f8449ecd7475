"""One contract for both sides of the Partner Center port (services/partner_center/port.py):
the real client over HTTP against the stand-in that follows Microsoft's documented shapes,
and the in-memory fake (tests/fakes/partner_center.py) unit tests may use in its place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.partner_center.client import PartnerCenterClient
from services.partner_center.errors import NotConfigured
from services.partner_center.port import PartnerCenter
from services.partner_center.standin import UNKNOWN_ID, PartnerCenterStandin, serving
from services.settings import Settings
from tests.fakes.partner_center import FakePartnerCenter
from tests.partner_center.conftest import CREDENTIALS, NOT_LINKED, tenants


@pytest.fixture(params=["client", "memory"])
def partner_center(request) -> Any:
    return request.getfixturevalue(f"{request.param}_partner_center")


@pytest.fixture
def memory_partner_center() -> FakePartnerCenter:
    return FakePartnerCenter(tenants(), CREDENTIALS)


@pytest.fixture
async def client_partner_center() -> AsyncIterator[PartnerCenterClient]:
    async with serving(PartnerCenterStandin(tenants())) as url:
        settings = Settings(partner_center_url=url, entra_authority_url=url)
        client = PartnerCenterClient(settings, CREDENTIALS)
        try:
            yield client
        finally:
            await client.aclose()


async def test_one_answer_per_distinct_id_in_the_order_asked(partner_center: PartnerCenter):
    answers = await partner_center.validate_resellers("dist-a", ["2222", "1111", "2222", "777"])
    assert [
        (
            a.result.partner_id,
            a.result.is_valid_partner_id_on_record,
            a.result.error_code,
            a.result.error_description,
        )
        for a in answers
    ] == [
        ("2222", False, NOT_LINKED.error_code, NOT_LINKED.description),
        ("1111", True, None, None),
        ("777", False, UNKNOWN_ID.error_code, UNKNOWN_ID.description),
    ]
    assert all(a.call.request_id and a.call.correlation_id for a in answers)


async def test_the_answer_is_the_distributors_own_tenants(partner_center: PartnerCenter):
    a = await partner_center.validate_resellers("dist-a", ["1111"])
    b = await partner_center.validate_resellers("dist-b", ["1111"])
    assert (
        a[0].result.is_valid_partner_id_on_record,
        b[0].result.is_valid_partner_id_on_record,
    ) == (
        True,
        False,
    )


async def test_a_distributor_without_credentials_is_not_configured(partner_center: PartnerCenter):
    with pytest.raises(NotConfigured):
        await partner_center.validate_resellers("dist-x", ["1111"])
    # The reseller list needs app+user access, which dist-b's credentials do not give.
    with pytest.raises(NotConfigured):
        await partner_center.indirect_resellers("dist-b")


async def test_every_indirect_reseller_of_the_distributor(partner_center: PartnerCenter):
    resellers = await partner_center.indirect_resellers("dist-a")
    assert [(r.id, r.mpn_id, r.relationship_type) for r in resellers.items] == [
        (f"ten-{n}", f"{1000 + n}", "IsIndirectCloudSolutionProviderOf") for n in range(5)
    ]
    assert resellers.calls
