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

    def to_suspend(self) -> Reseller:
        """The reseller `suspend_one` suspends: the first healthy one with customers."""
        return next(x for x in self.resellers if x.profile == "valid" and x.customers)

    def to_remove(self) -> Reseller:
        """The reseller `remove_partnership` parts from its distributor: the last healthy one."""
        return next(x for x in reversed(self.resellers) if x.profile == "valid" and x.customers)

    def suspend_one(self) -> Message:
        """A healthy reseller with customers gets suspended: its GDAP relationships are revoked."""
        r = self.to_suspend()
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
        r = self.to_remove()
        r.profile = "no_partnership"
        return message_for(
            PARTNER_REGISTRY,
            f"{r.distributor_id}/{r.tenant_id}",
            PartnershipUpserted(
                distributor_id=r.distributor_id, reseller_tenant_id=r.tenant_id, status="removed"
            ),
        )


# What each profile means, as the README's list of the demo registry says it.
PROFILE_TEXT = {
    "valid": "valid",
    "inactive_pla": "its PLA account is inactive",
    "suspended": "its reseller tenant is suspended",
    "direct_bill": "a direct-bill partner, not an indirect reseller",
    "unauthorized": "not authorized as an indirect reseller",
    "no_partnership": "no partnership with its distributor",
    "other_region": "its tenant is in another CSP region (BR)",
    "pga_only": "its orders carry its PGA id instead of its PLA id",
}


def notable_resellers(world: DemoWorld) -> list[tuple[str, str, str]]:
    """(PLA id, distributor, what is special) for each demo reseller that is not simply valid
    for its own distributor, in PLA id order: the README lists them."""
    changes = {
        world.to_suspend().pla: "valid until the 40th transaction, then its tenant is suspended"
        " and its GDAP relationships revoked",
        world.to_remove().pla: "valid until the 80th transaction, then its partnership is removed",
    }
    return [
        (r.pla, r.distributor_id, changes.get(r.pla) or PROFILE_TEXT[r.profile])
        for r in world.resellers
        if r.pla in changes or r.profile != "valid"
    ]


def banner_ids(world: DemoWorld, distributor_id: str) -> str:
    """The demo's PLA ids in a line, with a few to try with `distributor_id`'s API key."""
    first, last = world.resellers[0], world.resellers[-1]
    special = {world.to_suspend().pla, world.to_remove().pla}
    mine = [r for r in world.resellers if r.distributor_id == distributor_id]
    valid = next(r.pla for r in mine if r.profile == "valid" and r.pla not in special)
    failing = [r.pla for r in mine if r.profile != "valid"]
    other = next(r.pla for r in world.resellers if r.distributor_id != distributor_id)
    return (
        f"{first.pla}-{last.pla} (PGA ids {first.pga}-{last.pga}); with {distributor_id}'s key"
        f" try {valid} (valid), {' and '.join(failing)} (not valid),"
        f" {other} (another distributor's)"
    )
