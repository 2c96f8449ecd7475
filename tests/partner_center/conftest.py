"""Two distributors, each its own tenant at a Partner Center stand-in served on localhost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from contracts.errors import ErrorCode
from services.partner_center.client import PartnerCenterClient
from services.partner_center.credentials import DistributorCredentials
from services.partner_center.standin import (
    PartnerCenterStandin,
    StandinTenant,
    Verdict,
    serving,
)
from services.settings import Settings

NOT_LINKED = Verdict(False, ErrorCode.NO_ACTIVE_RESELLER_TENANT, "Not linked to a reseller tenant.")


def reseller(n: int) -> dict:
    return {
        "id": f"ten-{n}",
        "name": f"Reseller {n}",
        "relationshipType": "IsIndirectCloudSolutionProviderOf",
        "state": "active",
        "mpnId": f"{1000 + n}",
        "location": "DE",
        "attributes": {"objectType": "PartnerRelationship"},
    }


def tenants() -> dict[str, StandinTenant]:
    # The same PLA id 1111 is valid for dist-a and not for dist-b: answers tell whose they are.
    return {
        "tenant-a": StandinTenant(
            client_id="client-a",
            client_secret="secret-a",
            registry={"1111": Verdict(True), "2222": NOT_LINKED},
            relationships=[reseller(n) for n in range(5)],
            refresh_token="rt-a-0",
        ),
        "tenant-b": StandinTenant(
            client_id="client-b",
            client_secret="secret-b",
            registry={"1111": NOT_LINKED, "2222": Verdict(True)},
        ),
    }


CREDENTIALS = {
    "dist-a": DistributorCredentials(
        "dist-a", "tenant-a", "client-a", SecretStr("secret-a"), SecretStr("rt-a-0")
    ),
    "dist-b": DistributorCredentials("dist-b", "tenant-b", "client-b", SecretStr("secret-b")),
}


@pytest.fixture
def standin() -> PartnerCenterStandin:
    return PartnerCenterStandin(tenants(), hang_s=2.0)


@pytest.fixture
async def base_url(standin: PartnerCenterStandin) -> AsyncIterator[str]:
    async with serving(standin) as url:
        yield url


@pytest.fixture
async def make_client(base_url: str) -> AsyncIterator[Callable[..., PartnerCenterClient]]:
    """A client of the stand-in with quick retries; keyword arguments override settings."""
    clients: list[PartnerCenterClient] = []

    def make(**overrides) -> PartnerCenterClient:
        quick = {
            "partner_center_timeout_s": 1.0,
            "partner_center_retry_initial_s": 0.01,
            "partner_center_retry_max_s": 0.05,
        }
        settings = Settings(
            partner_center_url=base_url, entra_authority_url=base_url, **(quick | overrides)
        )
        client = PartnerCenterClient(settings, CREDENTIALS)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
