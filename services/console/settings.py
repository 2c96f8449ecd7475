"""The console's settings (/console on the API): operator keys and its sessions.
Distributors sign in with their API key (services/api/settings.py)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from services.api.settings import ApiSettings, operator_keys_of


class ConsoleSettings(ApiSettings):
    # Comma-separated operator keys, which see and act on every distributor's data.
    operator_keys: SecretStr | None = None
    # Signs the console's session cookies. Unset: a random secret per process, so sessions
    # end when the process restarts and are not shared between API replicas; set it (the
    # same on every replica) to keep them.
    console_secret: SecretStr | None = None
    # A console session ends this long after sign-in.
    console_session_s: int = Field(default=8 * 3600, ge=60)

    @field_validator("operator_keys")
    @classmethod
    def _operator_keys_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # At start, as the API's keys: the console must not serve with a guessable key.
        if value is not None:
            operator_keys_of(value.get_secret_value())
        return value

    def operator_key_list(self) -> list[str]:
        if self.operator_keys is None:
            return []
        return operator_keys_of(self.operator_keys.get_secret_value())
