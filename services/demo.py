"""Realistic synthetic traffic: a partner registry and a stream of orders and changes.

Used by `porgate dev --demo` and by the benchmarks. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.codec import encode, new_event
from contracts.errors import describe
from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    GdapRelationshipUpserted,
    OrderLineItem,
    OrderPlaced,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    SubscriptionChangeRequested,
)
from contracts.topics import ORDERS, PARTNER_REGISTRY, SUBSCRIPTION_CHANGES, Topic
from services.graph.standin import GraphTenant, relationship_json
from services.partner_center.standin import StandinTenant, Verdict

SOURCE = "/porgate/demo"
DISTRIBUTORS = [
    ("dist-eu-1", "Contoso Distribution EU", "DE", "en"),
    ("dist-jp-1", "Fabrikam Japan", "JP", "ja"),
    ("dist-us-1", "Northwind US", "US", "en"),
]
COUNTRY_OF = {"dist-eu-1": ["DE", "FR", "NL", "SE", "IE"], "dist-jp-1": ["JP"], "dist-us-1": ["US"]}
OFFERS = ["CFQ7TTC0LH18:0001", "CFQ7TTC0LDPB:0001", "CFQ7TTC0LF8Q:0001", "DZH318Z0BQ3Q:0007"]
# What can be wrong with a reseller, and how often (most are fine).
PROFILES = [
    ("valid", 80),
    ("inactive_pla", 3),
    ("suspended", 3),
    ("direct_bill", 3),
    ("unauthorized", 3),
    ("no_partnership", 3),
    ("other_region", 3),
    ("pga_only", 2),
]


@dataclass
class Reseller:
    pla: str
    pga: str
    tenant_id: str
    distributor_id: str
    profile: str
    customers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Message:
    topic: Topic
    key: str
    value: bytes


def message_for(topic: Topic, key: str, data: Any, time: datetime | None = None) -> Message:
    return Message(topic, key, encode(new_event(data, source=SOURCE, time=time, subject=key)))


class DemoWorld:
    def __init__(self, resellers: int = 60, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.resellers: list[Reseller] = []
        profiles, weights = zip(*PROFILES, strict=True)
        for i in range(resellers):
            dist = DISTRIBUTORS[i % len(DISTRIBUTORS)][0]
            r = Reseller(
                pla=str(1_000_000 + i),
                pga=str(5_000_000 + i),
                tenant_id=f"ten-{i:05d}",
                distributor_id=dist,
                profile=self.rng.choices(profiles, weights)[0],
            )
            r.customers = [f"cust-{i:05d}-{c}" for c in range(self.rng.randint(1, 3))]
            self.resellers.append(r)
        self.order_seq = 0

    def registry(self) -> list[Message]:
        out = [
            message_for(
                PARTNER_REGISTRY,
                d,
                DistributorUpserted(distributor_id=d, name=n, country=c, preferred_language=lang),
            )
            for d, n, c, lang in DISTRIBUTORS
        ]
        for r in self.resellers:
            country = self.rng.choice(COUNTRY_OF[r.distributor_id])
            if r.profile == "other_region":
                country = "BR"
            out.append(
                message_for(
                    PARTNER_REGISTRY,
                    r.tenant_id,
                    ResellerTenantUpserted(
                        reseller_tenant_id=r.tenant_id,
                        name=f"Reseller {r.tenant_id}",
                        kind="direct_bill"
                        if r.profile == "direct_bill"
                        else "csp_indirect_reseller",
                        status="suspended" if r.profile == "suspended" else "active",
                        indirect_reseller_authorized=r.profile != "unauthorized",
                        country=country,
                    ),
                )
            )
            out.append(
                message_for(
                    PARTNER_REGISTRY,
                    r.pla,
                    PartnerAccountUpserted(
                        partner_id=r.pla,
                        account_type="PLA",
                        status="inactive" if r.profile == "inactive_pla" else "active",
                        name=f"Reseller {r.tenant_id} (location)",
                        reseller_tenant_id=r.tenant_id,
                    ),
                )
            )
            out.append(
                message_for(
                    PARTNER_REGISTRY,
                    r.pga,
                    PartnerAccountUpserted(
                        partner_id=r.pga,
                        account_type="PGA",
                        status="active",
                        name=f"Reseller {r.tenant_id} (global)",
                        reseller_tenant_id=r.tenant_id,
                    ),
                )
            )
            if r.profile != "no_partnership":
                out.append(
                    message_for(
                        PARTNER_REGISTRY,
                        f"{r.distributor_id}/{r.tenant_id}",
                        PartnershipUpserted(
                            distributor_id=r.distributor_id,
                            reseller_tenant_id=r.tenant_id,
                            status="active",
                        ),
                    )
                )
            for c in r.customers:
                out.append(
                    message_for(
                        PARTNER_REGISTRY,
                        c,
                        CustomerAssignmentUpserted(
                            customer_id=c,
                            reseller_tenant_id=r.tenant_id,
                            distributor_id=r.distributor_id,
                            status="assigned",
                        ),
                    )
                )
                out.append(
                    message_for(
                        PARTNER_REGISTRY,
                        f"rel-{c}",
                        GdapRelationshipUpserted(
                            relationship_id=f"rel-{c}",
                            customer_id=c,
                            reseller_tenant_id=r.tenant_id,
                            roles=["Helpdesk Agent", "User Administrator"],
                            status="active",
                            distributor_id=r.distributor_id,  # whose Graph terminates it
                        ),
                    )
                )
        return out

    def _pid_for(self, r: Reseller) -> str | None:
        roll = self.rng.random()
        if r.profile == "pga_only" or roll < 0.01:
            return r.pga
        if roll < 0.02:
            return None
        if roll < 0.03:
            return f"{r.pla[:3]}-{r.pla[3:]}"  # a typo: malformed
        return r.pla

    def order(self, lines: int | None = None, now: datetime | None = None) -> Message:
        self.order_seq += 1
        r = self.rng.choice(self.resellers)
        n = lines or self.rng.choices([1, 2, 3, 5], [70, 20, 7, 3])[0]
        items = []
        for j in range(n):
            rr = r if j == 0 or self.rng.random() < 0.8 else self.rng.choice(self.resellers)
            items.append(
                OrderLineItem(
                    line_item_id=str(j + 1),
                    offer_id=self.rng.choice(OFFERS),
                    quantity=self.rng.randint(1, 50),
                    billing_plan="monthly",
                    term_duration="P1Y",
                    partner_id_on_record=self._pid_for(rr),
                )
            )
        order_id = f"ord-{self.order_seq:07d}-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:6]}"
        data = OrderPlaced(
            order_id=order_id,
            distributor_id=r.distributor_id,
            customer_id=self.rng.choice(r.customers),
            placed_at=now or datetime.now(UTC),
            line_items=items,
        )
        return message_for(ORDERS, order_id, data)

    def change(self, now: datetime | None = None) -> Message:
        now = now or datetime.now(UTC)
        r = self.rng.choice(self.resellers)
        kind = self.rng.choice(
            [
                "seat_count",
                "billing_plan",
                "term",
                "p2p_transfer",
                "renewal",
                "scheduled_change_execution",
                "legacy_to_new_commerce",
                "address_change",
            ]
        )
        sub = f"sub-{self.rng.randint(1, 99999):05d}"
        set_at = (
            now - timedelta(days=self.rng.choice([5, 400]))
            if kind == "scheduled_change_execution"
            else None
        )
        data = SubscriptionChangeRequested(
            change_id=f"chg-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:10]}",
            subscription_id=sub,
            distributor_id=r.distributor_id,
            customer_id=self.rng.choice(r.customers),
            kind=kind,
            requested_at=now,
            partner_id_on_record=self._pid_for(r),
            scheduled_change_set_at=set_at,
            details={"quantity": 10},
        )
        return message_for(SUBSCRIPTION_CHANGES, sub, data)

    def suspend_one(self) -> Message:
        """A healthy reseller with customers gets suspended: its GDAP relationships are revoked."""
        r = next(x for x in self.resellers if x.profile == "valid" and x.customers)
        r.profile = "suspended"
        return message_for(
            PARTNER_REGISTRY,
            r.tenant_id,
            ResellerTenantUpserted(
                reseller_tenant_id=r.tenant_id,
                name=f"Reseller {r.tenant_id}",
                kind="csp_indirect_reseller",
                status="suspended",
                indirect_reseller_authorized=True,
                country=COUNTRY_OF[r.distributor_id][0],
            ),
        )

    def remove_partnership(self) -> Message:
        """A partnership is removed: nothing is revoked, the distributor is told who keeps access."""
        r = next(x for x in reversed(self.resellers) if x.profile == "valid" and x.customers)
        r.profile = "no_partnership"
        return message_for(
            PARTNER_REGISTRY,
            f"{r.distributor_id}/{r.tenant_id}",
            PartnershipUpserted(
                distributor_id=r.distributor_id, reseller_tenant_id=r.tenant_id, status="removed"
            ),
        )


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
