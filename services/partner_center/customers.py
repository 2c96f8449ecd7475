"""A customer's indirect resellers, as the distributor's Partner Center tenant sees them.

`GET /v1/customers/{customer-id}/relationships` (app+user) answers a collection of
PartnerRelationship items: `id` is each partner's tenant id. The GDAP sync asks it for the
reseller a `resellerDelegatedAdminRelationship` was created for (Graph names none), and the
webhook receiver's worker when Partner Center announces that a customer accepted an
indirect reseller.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from services.partner_center.auth import TokenKind
from services.partner_center.client import PartnerCenterClient, parse_answer
from services.partner_center.models import CallRecord, PartnerRelationship, RelationshipPage

CUSTOMER_RELATIONSHIPS = "customer_relationships"


@dataclass(frozen=True)
class CustomerPartners:
    customer_id: str
    items: list[PartnerRelationship]
    call: CallRecord

    def reseller_tenant_ids(self, distributor_tenant_id: str | None) -> list[str]:
        """The customer's partners other than the asking distributor itself, each once."""
        own = (distributor_tenant_id or "").strip().lower()
        ids = (item.id.strip() for item in self.items)
        return sorted({i for i in ids if i and i.lower() != own})


async def customer_partners(
    client: PartnerCenterClient,
    distributor_id: str,
    customer_id: str,
    *,
    event_id: str | None = None,
) -> CustomerPartners:
    # One page: Microsoft documents no paging for this list, and a customer has few partners.
    response, call = await client.call(
        CUSTOMER_RELATIONSHIPS,
        distributor_id,
        TokenKind.APP_USER,
        "GET",
        f"{client.base_url}/v1/customers/{quote(customer_id, safe='')}/relationships",
        event_id=event_id,
    )
    if response.content.strip() in (b"", b"null"):
        # What Microsoft's Q&A reports for a customer without indirect resellers.
        return CustomerPartners(customer_id, [], call)
    page = parse_answer(distributor_id, RelationshipPage, response)
    return CustomerPartners(customer_id, page.items, call)
