"""Partner Center's webhook registration API, as Microsoft's "Partner Center webhooks" page
gives it: `GET /webhooks/v1/registration/events` (the event names), `POST|GET|PUT
/webhooks/v1/registration` with `{"WebhookUrl", "WebhookEvents"}` (the answer adds
`SubscriberId`), and `POST /webhooks/v1/registration/validationEvents`, which sends a
`test-created` event and answers `{"correlationId"}` (Partner Center allows 2 a minute).
App-only credentials are enough.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from services.partner_center.auth import TokenKind
from services.partner_center.client import PartnerCenterClient, parse_answer
from services.partner_center.errors import Rejected
from services.partner_center.events import CUSTOMER_ACCEPTED_RESELLER, TEST

PATH = "/webhooks/v1/registration"
# What porgate acts on, and the test event (`webhooks test` needs it registered).
DEFAULT_EVENTS = (
    "granular-admin-relationship-approved",
    "granular-admin-relationship-activated",
    "granular-admin-relationship-terminated",
    "granular-admin-relationship-expired",
    CUSTOMER_ACCEPTED_RESELLER,
    TEST,
)


class Registration(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    webhook_url: str = Field(alias="WebhookUrl")
    webhook_events: list[str] = Field(default_factory=list, alias="WebhookEvents")
    subscriber_id: str | None = Field(default=None, alias="SubscriberId")


class _Validation(BaseModel):
    correlation_id: str = Field(alias="correlationId")


def receiver_url(url: str, distributor_id: str) -> str:
    """The URL to register: porgate's receiver with the distributor it is for, since Partner
    Center's events do not say whose registration they come from."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "distributorId"]
    query.append(("distributorId", distributor_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _call(
    client: PartnerCenterClient, distributor_id: str, method: str, path: str, **kw: Any
):
    response, _ = await client.call(
        f"webhook_{method.lower()}", distributor_id, TokenKind.APP, method,
        f"{client.base_url}{path}", **kw,
    )  # fmt: skip
    return response


async def available_events(client: PartnerCenterClient, distributor_id: str) -> list[str]:
    response = await _call(client, distributor_id, "GET", f"{PATH}/events")
    names = response.json()
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Rejected(distributor_id, "the event list is not a list of names")
    return names


async def registration(client: PartnerCenterClient, distributor_id: str) -> Registration | None:
    """The tenant's registration; None when it has none (404)."""
    try:
        response = await _call(client, distributor_id, "GET", PATH)
    except Rejected as exc:
        if exc.status == 404:
            return None
        raise
    return parse_answer(distributor_id, Registration, response)


async def register(
    client: PartnerCenterClient, distributor_id: str, url: str, events: list[str]
) -> Registration:
    """Create the registration, or update the one the tenant has (each tenant has one)."""
    method = "PUT" if await registration(client, distributor_id) is not None else "POST"
    body = {"WebhookUrl": url, "WebhookEvents": events}
    response = await _call(client, distributor_id, method, PATH, json=body)
    return parse_answer(distributor_id, Registration, response)


async def send_test_event(client: PartnerCenterClient, distributor_id: str) -> str:
    """Ask Partner Center for a test-created event; its correlation id."""
    response = await _call(client, distributor_id, "POST", f"{PATH}/validationEvents")
    return parse_answer(distributor_id, _Validation, response).correlation_id
