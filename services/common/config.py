"""The runtime's configuration from `PORGATE_*` environment variables (pydantic-settings):
Kafka, the database, the rules' dates and regions, consumer and producer tuning, retries,
health, logs. Each service's own settings extend this in its package (`settings.py`), and
`services/settings.py` composes them into the one `Settings` every process reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.retry import backoff_s
from services.domain.scope import DEFAULT_ENFORCEMENT_START

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_s(text: str) -> float:
    """Seconds from "900", "90s", "15m", "1h" or "7d"; ValueError otherwise."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], 1)
    try:
        return float(value[:-1] if value[-1:] in _UNITS else value) * unit
    except ValueError:
        raise ValueError(f"{text!r} is not seconds or a duration like 15m or 7d") from None


def _seconds(value: object) -> object:
    return duration_s(value) if isinstance(value, str) else value


# A setting in seconds that also takes "90s", "15m", "1h" or "7d".
Duration = Annotated[float, BeforeValidator(_seconds)]


class RuntimeSettings(BaseSettings):
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
    # Where Entra ID tokens come from: Kafka's OAUTHBEARER, Partner Center's and Graph's.
    entra_authority_url: str = "https://login.microsoftonline.com"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/porgate"
    enforcement_start: AwareDatetime = DEFAULT_ENFORCEMENT_START

    # A JSON object of country code -> CSP region that overrides the shipped table.
    region_overrides_file: str | None = None

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
    # Transactions a consumer runs at once for one batch, each on its own partitions (as
    # that many replicas would): one's Python work overlaps another's wait on PostgreSQL.
    # For a database a network hop away; with PostgreSQL on the same two cores, 2 measured
    # the same as 1 (benchmarks/README.md).
    consumer_concurrency: int = Field(default=1, ge=1, le=8)
    # How long the group waits for a silent member before giving its partitions to another.
    # A group join also waits about half of it on Tansu, and a member restarted after a
    # crash waits the old member's out; aiokafka's defaults (10 s, heartbeat 3 s) suit
    # production. The heartbeat must stay below a third of the session timeout.
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 3_000
    # How long the producer holds a message for company. A batch's messages are handed over
    # together and go out in one request anyway; waiting longer only adds latency.
    producer_linger_ms: int = 0
    # The most a producer puts in one partition's record batch. aiokafka queues one batch per
    # partition and keeps one request in flight per broker, so with its 16 KiB default a
    # batch of 1.5 KB decisions went out in several round trips, one after another; this
    # size takes a consumer's batch in one (benchmarks/README.md). Below the 1 MiB a broker
    # takes by default, whatever the topic says.
    producer_batch_bytes: int = Field(default=512 * 1024, ge=16 * 1024, le=1024 * 1024)
    # How the producers compress their batches (consumers of any Kafka client decompress them).
    producer_compression: str | None = Field(default=None, pattern="^(gzip|snappy|lz4|zstd)$")
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
    # Attempts for a message that fails with a non-transient error before it is dead-lettered.
    poison_attempts: int = 3

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
