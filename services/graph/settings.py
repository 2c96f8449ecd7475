"""The Microsoft Graph client's settings (`PORGATE_GRAPH_*`). Its tokens come from the same
Entra ID, with the same margin and throttling patience, as Partner Center's."""

from __future__ import annotations

from pydantic import SecretStr

from services.partner_center.settings import PartnerCenterSettings


class GraphSettings(PartnerCenterSettings):
    graph_base_url: str = "https://graph.microsoft.com"
    graph_token_url: str | None = (
        None  # https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
    )
    graph_client_id: str | None = None
    graph_client_secret: SecretStr | None = None
    graph_timeout_s: float = 10.0
    graph_max_attempts: int = 10
