"""The Kafka client factory's settings: TLS, SASL, OAUTHBEARER tokens, the AsyncAPI scheme."""

from __future__ import annotations

import asyncio
import json
import ssl

import httpx
import pytest
from aiokafka.errors import IncompatibleBrokerVersion, KafkaConnectionError, for_code
from pydantic import SecretStr

from services.asyncapi import asyncapi_document
from services.common.kafka_clients import is_permanent
from services.common.kafka_oauth import EntraTokenError, EntraTokenProvider
from services.common.kafka_security import KafkaSetupError, client_options
from services.settings import Settings


def settings(**values) -> Settings:
    return Settings(kafka_bootstrap_servers="broker.example.com:9093", **values)


def test_plaintext_clients_get_only_the_bootstrap_servers_and_the_protocol() -> None:
    assert client_options(settings()) == {
        "bootstrap_servers": "broker.example.com:9093",
        "security_protocol": "PLAINTEXT",
    }


def test_scram_over_tls_gives_every_client_the_user_the_password_and_a_verifying_context() -> None:
    options = client_options(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="porgate",
            kafka_sasl_password=SecretStr("s3cret"),
        )
    )
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("porgate", "s3cret")
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_password_file_wins_and_loses_its_trailing_newline(tmp_path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\n")
    options = client_options(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="porgate",
            kafka_sasl_password_file=str(secret),
        )
    )
    assert options["sasl_plain_password"] == "from-file"


@pytest.mark.parametrize(
    ("values", "names"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "u"},
            "PORGATE_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": SecretStr("p")},
            "PORGATE_KAFKA_SASL_USERNAME",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_ca_file": "/nowhere/ca.pem"},
            "PORGATE_KAFKA_SSL_CA_FILE=/nowhere/ca.pem: no such file",
        ),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_username": "u",
                "kafka_sasl_password_file": "/nowhere/password",
            },
            "PORGATE_KAFKA_SASL_PASSWORD_FILE=/nowhere/password",
        ),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": "OAUTHBEARER",
                "kafka_sasl_username": "client",
                "kafka_sasl_password": SecretStr("secret"),
            },
            "PORGATE_KAFKA_OAUTH_TENANT_ID",
        ),
    ],
)
def test_a_setting_that_cannot_work_is_one_line_naming_it(values, names) -> None:
    with pytest.raises(KafkaSetupError) as caught:
        client_options(settings(**values))
    assert names in str(caught.value)
    assert "\n" not in str(caught.value)


def test_empty_kafka_variables_from_docker_compose_count_as_unset(monkeypatch) -> None:
    # docker-compose.yml passes `${PORGATE_KAFKA_SSL_CA_FILE:-}` and the like as "".
    monkeypatch.setenv("PORGATE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PORGATE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("PORGATE_KAFKA_SASL_USERNAME", "porgate")
    monkeypatch.setenv("PORGATE_KAFKA_SASL_PASSWORD", "pw")
    for name in ("OAUTH_TENANT_ID", "SSL_CA_FILE", "SSL_CERT_FILE", "SSL_KEY_FILE"):
        monkeypatch.setenv(f"PORGATE_KAFKA_{name}", "")
    loaded = Settings()
    assert loaded.kafka_ssl_ca_file is None and loaded.kafka_oauth_tenant_id is None
    options = client_options(loaded)
    assert options["sasl_plain_username"] == "porgate"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_a_ca_file_that_is_not_pem_is_refused_with_the_settings_to_fix(tmp_path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(KafkaSetupError, match="PORGATE_KAFKA_SSL_CA_FILE"):
        client_options(settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=str(bad)))


# ----------------------------------------------------------------------------- OAUTHBEARER


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entra(responses: list[tuple[int, dict]], seen: list[dict]) -> httpx.AsyncClient:
    """Entra ID's token endpoint as Microsoft documents it (client credentials grant)."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(dict(httpx.QueryParams(request.content.decode())))
        status, body = responses.pop(0)
        return httpx.Response(status, json=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def token_body(token: str, expires_in: int = 3599) -> dict:
    return {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": token,
    }


async def test_the_token_is_reused_then_fetched_again_five_minutes_before_it_expires() -> None:
    seen: list[dict] = []
    clock = Clock()
    provider = EntraTokenProvider(
        token_url="https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
        client_id="client",
        client_secret="secret",
        scope="https://ns.servicebus.windows.net/.default",
        http=entra([(200, token_body("one")), (200, token_body("two"))], seen),
        clock=clock,
    )
    assert await provider.token() == "one"
    clock.now += 3599 - 301
    assert await provider.token() == "one"
    clock.now += 2
    assert await provider.token() == "two"
    assert seen[0] == {
        "grant_type": "client_credentials",
        "client_id": "client",
        "client_secret": "secret",
        "scope": "https://ns.servicebus.windows.net/.default",
    }
    assert len(seen) == 2


async def test_a_short_lived_token_is_refreshed_at_half_its_lifetime() -> None:
    clock = Clock()
    provider = EntraTokenProvider(
        token_url="https://login.example/t",
        client_id="c",
        client_secret="s",
        scope="x",
        http=entra([(200, token_body("one", 120)), (200, token_body("two", 120))], []),
        clock=clock,
    )
    assert await provider.token() == "one"
    clock.now += 61
    assert await provider.token() == "two"


async def test_entra_refusing_the_secret_is_one_line_with_its_error_code() -> None:
    body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x",
        "error_codes": [7000215],
    }
    provider = EntraTokenProvider(
        token_url="https://login.example/t",
        client_id="c",
        client_secret="wrong",
        scope="x",
        http=entra([(401, body)], []),
    )
    with pytest.raises(EntraTokenError) as caught:
        await provider.token()
    message = str(caught.value)
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "wrong" not in message and "\n" not in message


def test_an_entra_refusal_is_a_connection_error_aiokafka_retries() -> None:
    # aiokafka's sender and coordinator survive only (OSError, TimeoutError, KafkaError).
    error = EntraTokenError("Kafka OAUTHBEARER: Entra ID refused")
    assert isinstance(error, KafkaConnectionError)
    assert str(error) == "Kafka OAUTHBEARER: Entra ID refused"


async def test_a_failed_refresh_keeps_the_cached_token_until_it_expires() -> None:
    clock = Clock()
    refusal = {"error": "temporarily_unavailable", "error_description": "AADSTS50196"}
    provider = EntraTokenProvider(
        token_url="https://login.example/t",
        client_id="c",
        client_secret="s",
        scope="x",
        http=entra(
            [(200, token_body("one", 3600)), (503, refusal), (503, refusal), (503, refusal)],
            [],
        ),
        clock=clock,
    )
    assert await provider.token() == "one"
    clock.now += 3400  # past the refresh point, before expiry
    assert await provider.token() == "one"
    clock.now += 199
    assert await provider.token() == "one"
    clock.now += 1  # expired: no token to fall back on
    with pytest.raises(EntraTokenError, match="temporarily_unavailable"):
        await provider.token()


def test_one_provider_serves_clients_in_successive_event_loops() -> None:
    # Providers are cached per process; each asyncio.run (a CLI command, a test) is a loop.
    tokens = ["one", "two"]

    async def slow_entra(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # the second caller waits on the lock meanwhile
        return httpx.Response(200, json=token_body(tokens.pop(0), 120))

    clock = Clock()
    provider = EntraTokenProvider(
        token_url="https://login.example/t",
        client_id="c",
        client_secret="s",
        scope="x",
        http=httpx.AsyncClient(transport=httpx.MockTransport(slow_entra)),
        clock=clock,
    )

    async def two_clients() -> list[str]:
        return list(await asyncio.gather(provider.token(), provider.token()))

    assert asyncio.run(two_clients()) == ["one", "one"]
    clock.now += 121
    assert asyncio.run(two_clients()) == ["two", "two"]


def test_oauthbearer_clients_share_one_token_provider_with_event_hubs_scope() -> None:
    values = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "OAUTHBEARER",
        "kafka_sasl_username": "client",
        "kafka_sasl_password": SecretStr("secret"),
        "kafka_oauth_tenant_id": "tenant",
    }
    one = client_options(settings(**values))["sasl_oauth_token_provider"]
    two = client_options(settings(**values))["sasl_oauth_token_provider"]
    assert one is two
    assert one.scope == "https://broker.example.com/.default"
    assert one.token_url == "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"


# ----------------------------------------------------------------------------- AsyncAPI


@pytest.mark.parametrize(
    ("values", "scheme", "protocol"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"},
            {"type": "scramSha512"},
            "kafka-secure",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "OAUTHBEARER"},
            {"type": "oauth2"},
            "kafka-secure",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
            {"type": "userPassword"},
            "kafka",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "/unread/client.pem"},
            {"type": "X509"},
            "kafka-secure",
        ),
    ],
)
def test_the_asyncapi_document_names_the_servers_security_scheme(values, scheme, protocol) -> None:
    # No file is read and no token fetched to describe the server.
    document = json.loads(asyncapi_document(settings(**values)))
    server = document["servers"]["development"]
    assert server["protocol"] == protocol
    (reference,) = server["security"]
    name = reference["$ref"].rsplit("/", 1)[1]
    assert document["components"]["securitySchemes"][name]["type"] == scheme["type"]


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        (31, True),  # CLUSTER_AUTHORIZATION_FAILED: no IdempotentWrite right
        (35, True),  # UNSUPPORTED_VERSION
        (15, False),  # COORDINATOR_NOT_AVAILABLE: loading, asked again next time
        (19, False),  # NOT_ENOUGH_REPLICAS
        (7, False),  # REQUEST_TIMED_OUT
    ],
)
def test_only_a_permanent_init_producer_id_refusal_is_remembered(code, permanent) -> None:
    assert is_permanent(for_code(code)) is permanent


def test_a_broker_without_init_producer_id_is_a_permanent_refusal() -> None:
    assert is_permanent(IncompatibleBrokerVersion)
    assert is_permanent(NotImplementedError)
    assert not is_permanent(KafkaConnectionError)
