"""The notifier's settings: where notifications go, how they are signed and retried, and
the weekly at-risk digest."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from services.common.config import RuntimeSettings
from services.common.webhook_secret import parse_webhook_secret


class NotifierSettings(RuntimeSettings):
    notify_webhook_url: str | None = None
    # `whsec_<base64>` (Standard Webhooks). A plain string is still accepted for one release
    # (deprecated): it keys both signatures with its UTF-8 bytes.
    notify_webhook_secret: SecretStr | None = None
    # While rotating, the secret being retired: every delivery is signed with both until
    # this is unset, so receivers can switch to the new one at their own pace.
    notify_webhook_secret_previous: SecretStr | None = None
    notify_webhook_timeout_s: float = 10.0
    # Attempts per delivery before it is recorded as failed (retry with `porgate notifications retry`).
    notify_max_attempts: int = 10
    # The longest Retry-After honoured (429, 502, 504); a longer one is cut to this, so a
    # receiver's mistake cannot park the queue for days.
    notify_retry_after_max_s: float = 3600.0
    # `weekly`: the notifier sends each distributor, once per ISO week, the subscriptions
    # porgate has seen whose POR fails now (`porgate report at-risk`), if there are any.
    at_risk_digest: str = Field(default="off", pattern="^(off|weekly)$")
    # How often the notifier checks whether this week's digests are sent (the digest itself
    # goes once a week whatever this is).
    at_risk_digest_check_s: float = Field(default=3600.0, gt=0)

    @field_validator("notify_webhook_secret", "notify_webhook_secret_previous")
    @classmethod
    def _webhook_secret_decodes(cls, value: SecretStr | None) -> SecretStr | None:
        # At start, not at the first delivery: a key that cannot be decoded is a typo to fix now.
        if value is not None and value.get_secret_value().strip():
            parse_webhook_secret(value.get_secret_value())
        return value
