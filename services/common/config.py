"""Configuration from `PORGATE_*` environment variables (pydantic-settings)."""

from __future__ import annotations

import logging
import os
import warnings
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.retry import backoff_s
from services.common.webhook_secret import parse_webhook_secret
from services.domain.scope import DEFAULT_ENFORCEMENT_START

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Deprecated setting names, and the names that replaced them.
_RENAMED = {"auto_revalidate": "auto_release", "revalidate_window": "release_window"}
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


def duration_s(text: str) -> float:
    """Seconds from "900", "90s", "15m", "1h" or "7d"; ValueError otherwise."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], 1)
    try:
        return float(value[:-1] if value[-1:] in _UNITS else value) * unit
    except ValueError:
        raise ValueError(f"{text!r} is not seconds or a duration like 15m or 7d") from None


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting may be a secret, and errors end up in logs.
    # env_ignore_empty: docker-compose passes `${VAR:-}` through as "", which means unset.
    model_config = SettingsConfigDict(
        env_prefix="PORGATE_", extra="ignore", hide_input_in_errors=True, env_ignore_empty=True
    )

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # How every Kafka client porgate builds connects (docs/kafka.md): TLS, SASL, or both.
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str = Field(
        default="PLAIN", pattern="^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER)$"
    )
    # PLAIN and SCRAM: the user and its password. OAUTHBEARER: the Entra ID app registration's
    # client id and secret (client credentials, as Azure Event Hubs' Kafka endpoint takes).
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # A file holding the password (a mounted Secret); read at each client's creation.
    kafka_sasl_password_file: str | None = None
    # OAUTHBEARER: the Entra ID tenant, and the scope asked for (default: the first bootstrap
    # host's https://HOST/.default, Event Hubs' own scope).
    kafka_oauth_tenant_id: str | None = None
    kafka_oauth_scope: str | None = None
    # PEM files: the CA that signed the brokers' certificates (default: the system's), and a
    # client certificate and key for brokers that authenticate clients by TLS (mTLS).
    kafka_ssl_ca_file: str | None = None
    kafka_ssl_cert_file: str | None = None
    kafka_ssl_key_file: str | None = None
    # The principal the brokers give porgate (`porgate doctor` checks its ACLs), where it is
    # not User:<SASL user name>: Confluent Cloud's User:<service account id>, an mTLS or
    # OAUTHBEARER principal.
    kafka_principal: str | None = None
    database_url: str = "postgresql://postgres@127.0.0.1:5432/porgate"
    enforcement_start: AwareDatetime = DEFAULT_ENFORCEMENT_START

    # A JSON object of country code -> CSP region that overrides the shipped table.
    region_overrides_file: str | None = None

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

    # gdap-revoker: "ledger" records terminations; "graph" calls Microsoft Graph.
    gdap_gateway: str = Field(default="ledger", pattern="^(ledger|graph)$")
    graph_base_url: str = "https://graph.microsoft.com"
    graph_token_url: str | None = (
        None  # https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
    )
    graph_client_id: str | None = None
    graph_client_secret: SecretStr | None = None
    graph_timeout_s: float = 10.0
    graph_max_attempts: int = 10
    # A terminate request is read back until Graph says succeeded or failed: first after
    # this long, then twice as long each time up to the maximum, at most this many reads
    # before the attempt counts as failed (about 25 minutes with the defaults).
    graph_poll_initial_s: float = Field(default=2.0, gt=0)
    graph_poll_max_s: float = Field(default=60.0, gt=0)
    graph_max_polls: int = Field(default=30, ge=1)
    # `porgate run partner-center-sync` also lists every distributor's GDAP relationships in
    # Graph this often (same forms as PARTNER_CENTER_SYNC_EVERY); 0 turns it off.
    gdap_sync_every: float = Field(default=3600.0, ge=0)

    # Partner Center's webhooks (POST /v1/partner-center/events on the API): the hosts the
    # signing certificate may be fetched from (comma-separated; https only, unless an entry
    # says http://host:port, which only a local stand-in should), the largest body accepted,
    # the oldest event accepted (ResourceChangeUtcDate; older ones are replays), and how long
    # a fetched certificate is trusted before it is fetched again.
    partner_center_webhook_cert_hosts: str = "3psostorageacct.blob.core.windows.net"
    partner_center_webhook_max_body: int = Field(default=64 * 1024, ge=1024)
    partner_center_webhook_max_age_s: float = Field(default=7 * 86400.0, gt=0)
    partner_center_webhook_cert_ttl_s: float = Field(default=3600.0, ge=0)
    # The certificate's subject Organization Microsoft documents checking.
    partner_center_webhook_cert_org: str = "Microsoft Corporation"

    # Who decides a transaction's POR: porgate's registry projection, or Partner Center's
    # validation API (the registry's codes then ride along on each line, for drift).
    por_authority: str = Field(default="registry", pattern="^(registry|partner-center)$")
    # Partner Center's answers are reused for this long (kept in PostgreSQL for audit anyway).
    partner_center_cache_ttl_s: float = Field(default=300.0, ge=0)
    # How long Partner Center may stay unreachable before PORGATE_PARTNER_CENTER_UNAVAILABLE
    # decides: `wait` keeps the distributor's requests parked (nothing decided, nothing lost)
    # until it answers; `registry` decides from the registry with authority `registry_fallback`.
    partner_center_max_wait_s: float = Field(default=60.0, ge=0)
    partner_center_unavailable: str = Field(default="wait", pattern="^(wait|registry)$")
    # How long a batch waits for a distributor's answer (one attempt) before it parks that
    # distributor's requests, to be decided later, so that the others' are decided now.
    partner_center_park_after_s: float = Field(default=2.0, gt=0)
    # Answers are kept this long for audit, then deleted by housekeeping.
    partner_center_audit_retention_days: int = Field(default=400, ge=1)

    # Partner Center (services/partner_center). Credentials per distributor come from a JSON
    # file (see services/partner_center/credentials.py); none means no Partner Center calls.
    partner_center_url: str = "https://api.partnercenter.microsoft.com"
    partner_center_credentials_file: str | None = None
    entra_authority_url: str = "https://login.microsoftonline.com"
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

    # partner-center-sync: how often the scheduled service lists every distributor's indirect
    # resellers, on a fixed schedule. Seconds ("900") or a number with one unit s, m or h
    # ("15m", "1h"); at least 1 second.
    partner_center_sync_every: float = Field(default=900.0, ge=1.0)

    # Observe mode accepts what enforcement would block, saying so (`wouldBlock`); a
    # distributor's `enforcementMode` on csp.distributor.upserted.v1 wins over this.
    enforcement_mode: str = Field(default="enforce", pattern="^(enforce|observe)$")
    # Automatic release: when a registry fact changes, por-validator re-decides the blocked
    # transactions of this window whose lines depend on it, and releases those that pass now
    # (registry authority only: with Partner Center as the authority, `porgate replay
    # revalidate` asks it). Revalidating is the manual replay; releasing is automatic.
    auto_release: bool = True
    release_window: float = Field(default=30 * 86400.0, ge=1.0)  # "30d", "12h" or seconds

    @model_validator(mode="before")
    @classmethod
    def _deprecated_names(cls, values: Any) -> Any:
        """PORGATE_AUTO_REVALIDATE and PORGATE_REVALIDATE_WINDOW, the settings' names before
        release and revalidate meant two things, still work for a release, with a warning;
        the new name wins where both are set."""
        if not isinstance(values, dict):
            return values
        for old, new in _RENAMED.items():
            # The environment source reads only the fields' own names.
            given = values.pop(old, os.environ.get(f"PORGATE_{old.upper()}") or None)
            if given is None:
                continue
            message = f"PORGATE_{old.upper()} is deprecated: set PORGATE_{new.upper()}"
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            log.warning(message)
            values.setdefault(new, given)
        return values

    @field_validator(
        "partner_center_sync_every",
        "gdap_sync_every",
        "partner_center_webhook_max_age_s",
        "release_window",
        mode="before",
    )
    @classmethod
    def _duration_in_seconds(cls, value: object) -> object:
        return duration_s(value) if isinstance(value, str) else value

    # Backoff between attempts of a webhook delivery or a Graph termination: outages of a
    # remote service last minutes, so these are longer than the consumers' retries. With
    # the defaults, 10 attempts span about 15 minutes before a delivery is recorded failed.
    delivery_retry_initial_s: float = 2.0
    delivery_retry_max_s: float = 300.0
    # A claimed delivery or termination is leased for its request timeout plus this margin:
    # after a crash mid-request, that is how long until another worker may try it again.
    delivery_lease_margin_s: float = 30.0

    # Housekeeping: inbox ids older than this are deleted. The inbox must outlive every topic's
    # retention (30 days at most in contracts/topics.py) so that a replay of anything still on
    # a topic stays a no-op.
    inbox_retention_days: int = 90

    # Consumer tuning.
    consumer_max_records: int = 500
    # How long a fetch may wait at the broker for data. aiokafka's 500 ms default is each
    # hop's worst-case latency on brokers that do not answer a waiting fetch early (Tansu).
    consumer_fetch_max_wait_ms: int = 50
    # How much data a fetch waits for (up to the wait above): about a dozen orders. Fewer,
    # fuller fetches and batches cost the broker, the database and the services far less per
    # order than a fetch answered for every record (benchmarks/README.md); an order waits
    # at most the fetch wait above for company.
    consumer_fetch_min_bytes: int = 8192
    # How long the group waits for a silent member before giving its partitions to another.
    # A group join also waits about half of it on Tansu, and a member restarted after a
    # crash waits the old member's out; aiokafka's defaults (10 s, heartbeat 3 s) suit
    # production. The heartbeat must stay below a third of the session timeout.
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 3_000
    # How long the producer holds a message for company. A batch's messages are handed over
    # together and go out in one request anyway; waiting longer only adds latency.
    producer_linger_ms: int = 0
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    # Attempts for a message that fails with a non-transient error before it is dead-lettered.
    poison_attempts: int = 3

    # API: comma-separated KEY=DISTRIBUTOR_ID pairs; each key may act for one distributor only.
    api_keys: SecretStr | None = None
    # Console (/console on the API): comma-separated operator keys, which see and act on
    # every distributor's data; distributors sign in with their API key above.
    operator_keys: SecretStr | None = None
    # Signs the console's session cookies. Unset: a random secret per process, so sessions
    # end when the process restarts and are not shared between API replicas; set it (the
    # same on every replica) to keep them.
    console_secret: SecretStr | None = None

    @field_validator("api_keys", "operator_keys")
    @classmethod
    def _keys_long_enough(cls, value: SecretStr | None, info) -> SecretStr | None:
        # At start: `porgate run api` must not serve with a guessable key. (A copy made with
        # model_copy skips this; create_app checks again through api_key_map.)
        if value is not None:
            if info.field_name == "api_keys":
                api_key_map_of(value.get_secret_value())
            else:
                operator_keys_of(value.get_secret_value())
        return value

    # Wrong API keys (the API and the console's sign-in) a client address, or a key, may
    # present within 15 minutes before each further one locks it out, doubling from 1 s to
    # 15 minutes (services/common/sign_in_attempts.py). Client addresses are real only with
    # FORWARDED_ALLOW_IPS set to the ingress: otherwise every client is the ingress's address.
    sign_in_free_failures: int = Field(default=10, ge=1)
    # A console session ends this long after sign-in.
    console_session_s: int = Field(default=8 * 3600, ge=60)
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
    # `porgate run SERVICE` serves /healthz, /readyz and /metrics here; 0 disables it.
    health_host: str = "127.0.0.1"
    health_port: int = 9100

    # `porgate topics`: replicas per partition (3 on a production cluster).
    topic_replication_factor: int = 1

    # Prepended to every topic and consumer group: several environments (or test runs) can
    # share one cluster. Empty in production, so names are exactly the contract's.
    topic_prefix: str = ""

    log_level: str = "INFO"
    log_json: bool = True
    instance_id: str = "porgate"

    def delivery_backoff_s(self, attempts: int) -> float:
        """Delay before the next attempt, after `attempts` attempts: exponential, capped."""
        return backoff_s(attempts, self.delivery_retry_initial_s, self.delivery_retry_max_s)

    def api_key_map(self) -> dict[str, str]:
        return {} if self.api_keys is None else api_key_map_of(self.api_keys.get_secret_value())

    def operator_key_list(self) -> list[str]:
        if self.operator_keys is None:
            return []
        return operator_keys_of(self.operator_keys.get_secret_value())


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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
