"""The demo world as Microsoft's stand-ins see it: Partner Center's answers for each demo
reseller, the demo distributors' credentials, and their GDAP relationships in Graph. Used by
`porgate dev` and the benchmarks' Partner Center phase."""

from __future__ import annotations

from typing import Any

from contracts.errors import describe
from services.devtools.demo import COUNTRY_OF, DISTRIBUTORS, DemoWorld
from services.graph.standin import GraphTenant, relationship_json
from services.partner_center.standin import StandinTenant, Verdict

# What Partner Center answers for each kind of reseller, as its distributor's tenant sees it.
_PARTNER_CENTER_CODE = {
    "valid": None,
    "inactive_pla": 900151,
    "suspended": 900400,
    "direct_bill": 900414,
    "unauthorized": 900154,
    "no_partnership": 900414,
    "other_region": 900152,
    "pga_only": None,  # its orders carry the PGA id, which Partner Center does not know
}


def standin_tenants(world: DemoWorld) -> dict[str, StandinTenant]:
    """One Partner Center tenant per demo distributor (tenant id = "tenant-" + distributor id,
    client id and secret "dev-" + distributor id) answering as the demo registry implies, except
    one reseller per distributor that Partner Center already knows to be suspended: the drift
    `porgate dev --partner-center-standin` shows."""
    tenants: dict[str, StandinTenant] = {}
    for distributor_id, *_ in DISTRIBUTORS:
        registry: dict[str, Verdict] = {}
        relationships: list[dict[str, Any]] = []
        drifted = False
        for r in world.resellers:
            mine = r.distributor_id == distributor_id
            code = _PARTNER_CENTER_CODE[r.profile] if mine else 900414
            if mine and code is None and not drifted:
                code, drifted = 900400, True
            registry[r.pla] = (
                Verdict(True) if code is None else Verdict(False, code, describe(code).message)
            )
            if mine and r.profile == "valid":
                relationships.append(
                    {
                        "id": r.tenant_id,
                        "name": f"Reseller {r.tenant_id}",
                        "relationshipType": "IsIndirectCloudSolutionProviderOf",
                        "state": "active",
                        "mpnId": r.pla,
                        "location": COUNTRY_OF[distributor_id][0],
                    }
                )
        tenants[f"tenant-{distributor_id}"] = StandinTenant(
            client_id=f"dev-{distributor_id}",
            client_secret=f"dev-{distributor_id}",
            registry=registry,
            relationships=relationships,
            refresh_token=f"dev-refresh-{distributor_id}",
        )
    return tenants


def standin_credentials() -> dict[str, dict[str, str]]:
    """The credentials file's content for the stand-in's tenants."""
    return {
        d: {
            "tenantId": f"tenant-{d}",
            "clientId": f"dev-{d}",
            "clientSecret": f"dev-{d}",
            "refreshToken": f"dev-refresh-{d}",
        }
        for d, *_ in DISTRIBUTORS
    }


def graph_tenants(world: DemoWorld) -> dict[str, GraphTenant]:
    """Each demo distributor's Graph list (the stand-in's tenant "tenant-" + distributor id,
    the app of standin_credentials): the GDAP relationships the demo registry announces, each
    one the distributor created for its reseller, active."""
    tenants = {
        f"tenant-{d}": GraphTenant(client_id=f"dev-{d}", client_secret=f"dev-{d}")
        for d, *_ in DISTRIBUTORS
    }
    for r in world.resellers:
        tenant_id = f"tenant-{r.distributor_id}"
        for c in r.customers:
            tenants[tenant_id].add(
                relationship_json(f"rel-{c}", c, indirect_provider_tenant_id=tenant_id)
            )
    return tenants
