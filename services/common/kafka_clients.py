"""The one factory of every Kafka client porgate builds: services, tools, console, benchmarks.

Each client gets the bootstrap servers, TLS and SASL of `kafka_security.client_options`.
Start them with `start_client` (or `start_producer`): a client that cannot connect raises
`KafkaSetupError` with one line saying why and what to fix (a wrong password, a CA that does
not sign the broker's certificate, a TLS listener spoken to in plain text), instead of
aiokafka's "Unable to bootstrap".
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    ClusterAuthorizationFailedError,
    IllegalSaslStateError,
    IncompatibleBrokerVersion,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
    UnsupportedVersionError,
    for_code,
)
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.transaction import InitProducerIdRequest

from services.common.config import RuntimeSettings
from services.common.kafka import MAX_REQUEST_SIZE, partition_for
from services.common.kafka_oauth import EntraTokenError
from services.common.kafka_security import KafkaSetupError, client_options, describe

log = logging.getLogger(__name__)

C = TypeVar("C")


# aiokafka's lines for a bootstrap server that failed (a running client's are kept).
BOOTSTRAP_FAILURES = ('Unable connect to "', 'Unable to request metadata from "')


class _DiagnosedHere(logging.Filter):
    """Drops aiokafka's own line for a failed bootstrap: every client porgate starts goes
    through `start_client`, which says instead, in one line, why and what to fix."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(BOOTSTRAP_FAILURES)


logging.getLogger("aiokafka").addFilter(_DiagnosedHere())
# How long the diagnosis of a failed start waits for each broker.
PROBE_TIMEOUT_S = 10.0


def new_consumer(settings: RuntimeSettings, *topics: str, client_id: str, **options: Any):
    """A consumer; `options` are aiokafka's (group_id, offsets, fetch sizes)."""
    return AIOKafkaConsumer(*topics, client_id=client_id, **client_options(settings), **options)


def new_admin(settings: RuntimeSettings, *, client_id: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(client_id=client_id, **client_options(settings))


def new_producer(
    settings: RuntimeSettings,
    *,
    idempotent: bool,
    linger_ms: int | None = None,
    client_id: str | None = None,
) -> AIOKafkaProducer:
    """A producer with acks=all and the contracts' message size. Prefer `start_producer`,
    which decides `idempotent` from what the broker grants."""
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=settings.producer_linger_ms if linger_ms is None else linger_ms,
        max_batch_size=settings.producer_batch_bytes,
        max_request_size=MAX_REQUEST_SIZE,
        compression_type=settings.producer_compression,
        client_id=client_id or f"porgate-{settings.instance_id}",
        partitioner=partition_for,
        **client_options(settings),
    )


async def start_producer(
    settings: RuntimeSettings, *, linger_ms: int | None = None, client_id: str | None = None
) -> AIOKafkaProducer:
    """Every producer porgate starts: idempotent wherever the broker grants a producer id."""
    idempotent = await idempotence_granted(settings)
    producer = new_producer(
        settings, idempotent=idempotent, linger_ms=linger_ms, client_id=client_id
    )
    return await start_client(producer, settings)


async def start_client(client: C, settings: RuntimeSettings) -> C:
    """`await client.start()`; a failure to connect becomes a `KafkaSetupError` saying why."""
    try:
        await client.start()  # type: ignore[attr-defined]
    except (KafkaConnectionError, EntraTokenError) as exc:
        await _quietly_stop(client)
        if isinstance(exc, EntraTokenError):
            raise KafkaSetupError(str(exc)) from None
        raise (await diagnose(settings)) or KafkaSetupError(f"Kafka: {exc}") from None
    except BaseException:
        await _quietly_stop(client)
        raise
    return client


async def _quietly_stop(client: Any) -> None:
    stop = getattr(client, "stop", None) or client.close
    try:
        await stop()
    except Exception:
        log.debug("stopping a client that failed to start", exc_info=True)


# ----------------------------------------------------------------------------- diagnosis


@dataclass(frozen=True)
class Reached:
    """A broker that answered and accepted the credentials, with the API versions it offers."""

    address: str
    api_versions: dict[int, tuple[int, int]]


def _hosts(settings: RuntimeSettings) -> list[tuple[str, int]]:
    hosts = []
    for item in settings.kafka_bootstrap_servers.split(","):
        host, _, port = item.strip().rpartition(":")
        hosts.append((host.strip("[]") or item.strip(), int(port or 9092)))
    return hosts


async def reach(settings: RuntimeSettings, timeout_s: float = PROBE_TIMEOUT_S) -> Reached:
    """Connect (TLS, SASL) to the first bootstrap server that lets us in; else raise
    `KafkaSetupError` with the first server's reason."""
    options = client_options(settings)
    options.pop("bootstrap_servers")
    failures: list[KafkaSetupError] = []
    for host, port in _hosts(settings):
        try:
            async with asyncio.timeout(timeout_s):
                conn = await create_conn(
                    host, port, client_id="porgate-probe", request_timeout_ms=timeout_s * 1000,
                    **options,
                )  # fmt: skip
        except (OSError, KafkaError, TimeoutError, EntraTokenError) as exc:
            failures.append(explain(settings, f"{host}:{port}", exc, timeout_s))
            continue
        try:
            # A broker that wants SASL lets an unauthenticated client through the handshake
            # and closes at its first real request.
            async with asyncio.timeout(timeout_s):
                await conn.send(MetadataRequest([]))
        except (KafkaError, TimeoutError) as exc:
            failures.append(
                KafkaSetupError(
                    f"Kafka at {host}:{port}: the broker closed the connection at the first"
                    f" request ({describe(settings)}): {type(exc).__name__}",
                    "it may require SASL: check PORGATE_KAFKA_SECURITY_PROTOCOL",
                )
            )
            continue
        finally:
            # aiokafka keeps the ApiVersions answer here.
            versions = dict(conn._versions)
            conn.close()
        return Reached(f"{host}:{port}", versions)
    raise failures[0] if failures else KafkaSetupError("PORGATE_KAFKA_BOOTSTRAP_SERVERS is empty")


async def diagnose(settings: RuntimeSettings) -> KafkaSetupError | None:
    """Why no client can connect; None if a probe gets in after all."""
    try:
        await reach(settings)
    except KafkaSetupError as exc:
        return exc
    return None


def explain(settings: RuntimeSettings, where: str, exc: BaseException, timeout_s: float):
    """What failed at `where` and which setting fixes it, as a `KafkaSetupError`."""
    how = describe(settings)
    protocol = f"check PORGATE_KAFKA_SECURITY_PROTOCOL (now {how})"
    if isinstance(exc, EntraTokenError):
        return KafkaSetupError(str(exc))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return KafkaSetupError(
            f"Kafka at {where}: the broker's TLS certificate is not trusted ({exc.verify_message})",
            "set PORGATE_KAFKA_SSL_CA_FILE to the CA that signed it"
            f" (now {settings.kafka_ssl_ca_file or 'the system store'})",
        )
    if isinstance(exc, ssl.SSLError):
        return KafkaSetupError(
            f"Kafka at {where}: TLS handshake failed ({exc.reason or exc})",
            f"check that the listener speaks TLS; {protocol}",
        )
    if isinstance(
        exc, SaslAuthenticationFailed | IllegalSaslStateError | AuthenticationFailedError
    ):
        return KafkaSetupError(
            f"Kafka at {where}: SASL authentication failed ({how}): {exc}",
            "check PORGATE_KAFKA_SASL_USERNAME and PORGATE_KAFKA_SASL_PASSWORD(_FILE)",
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return KafkaSetupError(
            f"Kafka at {where}: {exc}", "set PORGATE_KAFKA_SASL_MECHANISM to one of them"
        )
    if isinstance(exc, TimeoutError):
        return KafkaSetupError(
            f"Kafka at {where}: no answer within {timeout_s:.0f}s ({how})",
            f"a TLS listener spoken to without TLS waits like this: {protocol}",
        )
    if isinstance(exc, KafkaConnectionError):
        return KafkaSetupError(
            f"Kafka at {where}: the broker closed the connection during the handshake ({how})",
            f"it may expect TLS or SASL: {protocol}",
        )
    if isinstance(exc, OSError):
        return KafkaSetupError(
            f"Kafka at {where}: cannot connect ({exc.strerror or exc})",
            "check PORGATE_KAFKA_BOOTSTRAP_SERVERS and that the network lets this process through",
        )
    return KafkaSetupError(f"Kafka at {where}: {type(exc).__name__}: {exc} ({how})")


# ----------------------------------------------------------------------------- idempotence

_refusals: dict[tuple[str, str, str | None], str | None] = {}
# Refusals that asking again cannot change: no right to a producer id, or no such API.
# Anything else (a coordinator loading, a dropped connection) is asked again next time.
PERMANENT_REFUSALS: tuple[type[BaseException], ...] = (
    ClusterAuthorizationFailedError,
    UnsupportedVersionError,
    IncompatibleBrokerVersion,  # the broker does not offer InitProducerId at all
    NotImplementedError,  # it offers only versions aiokafka cannot speak
)
PROBE_ATTEMPTS = 3
PROBE_RETRY_S = 0.5


async def idempotence_granted(settings: RuntimeSettings) -> bool:
    """Whether the broker grants an idempotent producer its id (InitProducerId), asked once
    per process and broker. Where it does not, producers run without idempotence, which
    every consumer's inbox makes harmless (a retried send is a duplicate it skips); the
    reason is logged once."""
    return await idempotence_refusal(settings) is None


async def idempotence_refusal(settings: RuntimeSettings) -> str | None:
    """Why the broker grants no idempotent producer; None when it does. A permanent refusal
    is remembered for the process; a transient one is tried again a few times, then only
    this producer goes without, and the next one asks again."""
    key = (
        settings.kafka_bootstrap_servers,
        settings.kafka_security_protocol,
        settings.kafka_sasl_username,
    )
    if key in _refusals:
        return _refusals[key]
    for attempt in range(PROBE_ATTEMPTS):
        refusal, permanent = await _init_producer_id_refusal(settings)
        if refusal is None or permanent:
            _refusals[key] = refusal
            if refusal is not None:
                log.warning(
                    "idempotent producer off: %s; retried sends may duplicate a record,"
                    " which the consumers' inbox skips",
                    refusal,
                )
            return refusal
        if attempt + 1 < PROBE_ATTEMPTS:
            await asyncio.sleep(PROBE_RETRY_S * 2**attempt)
    log.warning("idempotent producer off for this producer only: %s (transient)", refusal)
    return refusal


def is_permanent(error: type[BaseException]) -> bool:
    return issubclass(error, PERMANENT_REFUSALS)


async def _init_producer_id_refusal(settings: RuntimeSettings) -> tuple[str | None, bool]:
    """(why the broker grants no producer id, whether asking again cannot change that)."""
    client = AIOKafkaClient(client_id="porgate-probe", **client_options(settings))
    await start_client(_Bootstrapping(client), settings)
    try:
        node = client.get_random_node()
        request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
        try:
            response = await client.send(node, request)
        except (KafkaError, NotImplementedError) as exc:
            why = f"the broker cannot grant a producer id ({type(exc).__name__}: {exc})"
            return why, is_permanent(type(exc))
        if response.error_code != 0:
            error = for_code(response.error_code)
            return f"the broker refused InitProducerId ({error.__name__})", is_permanent(error)
        return None, True
    finally:
        await client.close()


class _Bootstrapping:
    """A bare client has bootstrap(), not start(): the shape `start_client` expects."""

    def __init__(self, client: AIOKafkaClient) -> None:
        self.client = client

    async def start(self) -> None:
        await self.client.bootstrap()

    async def stop(self) -> None:
        await self.client.close()
