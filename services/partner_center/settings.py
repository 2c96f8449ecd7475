"""The Partner Center client's settings (`PORGATE_PARTNER_CENTER_*`)."""

from __future__ import annotations

from pydantic import Field

from services.common.config import RuntimeSettings


class PartnerCenterSettings(RuntimeSettings):
    # Credentials per distributor come from a JSON file (see
    # services/partner_center/credentials.py); none means no Partner Center calls.
    partner_center_url: str = "https://api.partnercenter.microsoft.com"
    partner_center_credentials_file: str | None = None
    # X-Locale: the language of Partner Center's error descriptions.
    partner_center_locale: str = "en-US"
    # Microsoft documents no maximum of ids per validateresellers call.
    partner_center_batch_size: int = Field(default=100, ge=1)
    partner_center_timeout_s: float = 30.0
    # Attempts of one request on 5xx and timeouts (429s are bounded by the wait below instead).
    partner_center_max_attempts: int = Field(default=4, ge=1)
    partner_center_retry_initial_s: float = 0.5
    partner_center_retry_max_s: float = 10.0
    # Longest one call waits out Retry-After in total before it gives up as throttled.
    partner_center_max_throttle_wait_s: float = 60.0
    # Calls in flight per distributor: Microsoft throttles per partner tenant.
    partner_center_concurrency: int = Field(default=4, ge=1)
    # Consecutive failed attempts (5xx, timeouts) that open a distributor's circuit, and how
    # long it stays open before one trial call.
    partner_center_breaker_threshold: int = Field(default=5, ge=1)
    partner_center_breaker_cooldown_s: float = 30.0
    # Fetch a new token this long before the old one expires (at most half its lifetime).
    partner_center_token_margin_s: float = 300.0
