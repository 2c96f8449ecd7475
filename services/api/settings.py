"""The HTTP API's settings: where it listens, its keys and their limits, and Partner Center's
webhooks it receives."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from services.common.config import Duration, RuntimeSettings

# API and operator keys are bearer secrets: at least this long (about 120 bits as random
# base64 or hex), so that guessing one is hopeless (services/common/sign_in_attempts.py).
MIN_KEY_LENGTH = 20


def _check_key_lengths(keys: list[str], variable: str) -> None:
    short = sum(1 for k in keys if len(k) < MIN_KEY_LENGTH)
    if short:
        # Never the key itself, not even a part: this message reaches logs.
        raise ValueError(
            f"PORGATE_{variable}: {short} key(s) shorter than {MIN_KEY_LENGTH} characters;"
            f" every key must be at least {MIN_KEY_LENGTH} characters (for instance"
            " `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
        )


def api_key_map_of(text: str) -> dict[str, str]:
    """`KEY=DISTRIBUTOR,...` as a map; ValueError when a key is too short."""
    out = {}
    for pair in (p.strip() for p in text.split(",")):
        if pair:
            key, _, distributor = pair.partition("=")
            if key and distributor:
                out[key.strip()] = distributor.strip()
    _check_key_lengths(list(out), "API_KEYS")
    return out


def operator_keys_of(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    _check_key_lengths(keys, "OPERATOR_KEYS")
    return keys


class ApiSettings(RuntimeSettings):
    # Partner Center's webhooks (POST /v1/partner-center/events on the API): the hosts the
    # signing certificate may be fetched from (comma-separated; https only, unless an entry
    # says http://host:port, which only a local stand-in should), the largest body accepted,
    # the oldest event accepted (ResourceChangeUtcDate; older ones are replays), and how long
    # a fetched certificate is trusted before it is fetched again.
    partner_center_webhook_cert_hosts: str = "3psostorageacct.blob.core.windows.net"
    partner_center_webhook_max_body: int = Field(default=64 * 1024, ge=1024)
    partner_center_webhook_max_age_s: Duration = Field(default=7 * 86400.0, gt=0)
    partner_center_webhook_cert_ttl_s: float = Field(default=3600.0, ge=0)
    # The certificate's subject Organization Microsoft documents checking.
    partner_center_webhook_cert_org: str = "Microsoft Corporation"

    # Comma-separated KEY=DISTRIBUTOR_ID pairs; each key may act for one distributor only.
    api_keys: SecretStr | None = None

    @field_validator("api_keys")
    @classmethod
    def _api_keys_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # At start: `porgate run api` must not serve with a guessable key. (A copy made with
        # model_copy skips this; create_app checks again through api_key_map.)
        if value is not None:
            api_key_map_of(value.get_secret_value())
        return value

    # Wrong API keys (the API and the console's sign-in) a client address, or a key, may
    # present within 15 minutes before each further one locks it out, doubling from 1 s to
    # 15 minutes (services/common/sign_in_attempts.py). Client addresses are real only with
    # FORWARDED_ALLOW_IPS set to the ingress: otherwise every client is the ingress's address.
    sign_in_free_failures: int = Field(default=10, ge=1)
    # Proxies whose X-Forwarded-Proto/For the API believes (uvicorn's forwarded_allow_ips):
    # behind a TLS-terminating ingress, its address (or "*"), so the console's cookie is Secure.
    forwarded_allow_ips: str = "127.0.0.1"
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    # Requests a second each API key may make, per process (a token bucket holding one second's
    # worth, so short bursts pass); over it, 429 with Retry-After. 0 turns the limit off.
    # Partner Center publishes no number of its own; 50 is well above one distributor's
    # ordering systems and far below what one process serves (benchmarks/README.md).
    api_rate_per_key: float = Field(default=50.0, ge=0)
    # Re-checks (POST /v1/partners/{id}/recheck, the console's button) each API key may make a
    # second: each may call Partner Center and re-decide transactions. 0 turns the limit off.
    recheck_rate_per_key: float = Field(default=0.2, ge=0)

    def api_key_map(self) -> dict[str, str]:
        return {} if self.api_keys is None else api_key_map_of(self.api_keys.get_secret_value())
