"""How every Kafka client connects: TLS and SASL from the `PORGATE_KAFKA_*` settings.

`client_options` gives the keyword arguments every aiokafka client takes (producer, consumer,
admin, bare client) and `broker_security` the same for faststream's broker, which also names
the scheme in the AsyncAPI document. A setting that cannot work (a missing file, SASL without
a user) raises `KafkaSetupError` with one line that says which setting to fix.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaConnectionError
from aiokafka.helpers import create_ssl_context
from faststream.security import (
    BaseSecurity,
    SASLOAuthBearer,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from services.common.config import RuntimeSettings
from services.common.kafka_oauth import EntraTokenProvider, token_provider


class KafkaSetupError(KafkaConnectionError):
    """Kafka cannot be used as configured; the message is one line naming the fix.

    A connection error, so that every `except KafkaError` already in place (the console's
    banners, the on-call tools) handles it; not retriable: retrying fixes no setting.
    """

    retriable = False

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        # KafkaError's str() prefixes the class's errno and message; ours is the whole line.
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


class KafkaSettingError(KafkaSetupError):
    """A PORGATE_KAFKA_* setting that cannot work, found before connecting."""


def uses_tls(settings: RuntimeSettings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings: RuntimeSettings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def describe(settings: RuntimeSettings) -> str:
    """The connection in words, for logs and `porgate doctor` (never a secret)."""
    text = settings.kafka_security_protocol
    if uses_sasl(settings):
        text += f" {settings.kafka_sasl_mechanism}"
        if settings.kafka_sasl_username:
            text += f" as {settings.kafka_sasl_username}"
    if uses_tls(settings):
        text += f", CA {settings.kafka_ssl_ca_file or 'the system store'}"
        if settings.kafka_ssl_cert_file:
            text += f", client certificate {settings.kafka_ssl_cert_file}"
    return text


def sasl_password(settings: RuntimeSettings) -> str:
    if settings.kafka_sasl_password_file:
        path = Path(settings.kafka_sasl_password_file)
        try:
            # A mounted Secret often ends with a newline nobody meant as part of the password.
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KafkaSettingError(
                f"PORGATE_KAFKA_SASL_PASSWORD_FILE={path}: {exc.strerror or exc}"
            ) from None
    if settings.kafka_sasl_password is None:
        raise KafkaSettingError(
            f"{settings.kafka_sasl_mechanism} needs a password:"
            " set PORGATE_KAFKA_SASL_PASSWORD or PORGATE_KAFKA_SASL_PASSWORD_FILE"
        )
    return settings.kafka_sasl_password.get_secret_value()


def _readable(setting: str, path: str | None) -> str | None:
    if path is not None and not Path(path).is_file():
        raise KafkaSettingError(f"{setting}={path}: no such file")
    return path


def ssl_context(settings: RuntimeSettings) -> ssl.SSLContext | None:
    """The TLS context of every client, or None without TLS. Hostnames are checked."""
    if not uses_tls(settings):
        return None
    cafile = _readable("PORGATE_KAFKA_SSL_CA_FILE", settings.kafka_ssl_ca_file)
    certfile = _readable("PORGATE_KAFKA_SSL_CERT_FILE", settings.kafka_ssl_cert_file)
    keyfile = _readable("PORGATE_KAFKA_SSL_KEY_FILE", settings.kafka_ssl_key_file)
    if keyfile and not certfile:
        raise KafkaSettingError(
            "PORGATE_KAFKA_SSL_KEY_FILE is set without PORGATE_KAFKA_SSL_CERT_FILE"
        )
    try:
        context = create_ssl_context(cafile=cafile, certfile=certfile, keyfile=keyfile)
    except ssl.SSLError as exc:
        raise KafkaSettingError(
            f"the TLS files cannot be loaded ({exc.reason or exc}): PORGATE_KAFKA_SSL_CA_FILE,"
            " _CERT_FILE and _KEY_FILE must be PEM, the key matching the certificate"
        ) from None
    if cafile is None:
        context.load_default_certs()
    return context


def _username(settings: RuntimeSettings) -> str:
    if not settings.kafka_sasl_username:
        what = (
            "the Entra ID client id"
            if settings.kafka_sasl_mechanism == "OAUTHBEARER"
            else "a user name"
        )
        raise KafkaSettingError(
            f"{settings.kafka_sasl_mechanism} needs {what}: set PORGATE_KAFKA_SASL_USERNAME"
        )
    return settings.kafka_sasl_username


def oauth_provider(settings: RuntimeSettings) -> EntraTokenProvider:
    if not settings.kafka_oauth_tenant_id:
        raise KafkaSettingError(
            "OAUTHBEARER needs the Entra ID tenant: set PORGATE_KAFKA_OAUTH_TENANT_ID"
        )
    host = settings.kafka_bootstrap_servers.split(",")[0].strip().rsplit(":", 1)[0]
    return token_provider(
        token_url=f"{settings.entra_authority_url.rstrip('/')}/"
        f"{settings.kafka_oauth_tenant_id}/oauth2/v2.0/token",
        client_id=_username(settings),
        client_secret=sasl_password(settings),
        scope=settings.kafka_oauth_scope or f"https://{host}/.default",
    )


def client_options(settings: RuntimeSettings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client: bootstrap servers, TLS and SASL."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if uses_tls(settings):
        options["ssl_context"] = ssl_context(settings)
    if uses_sasl(settings):
        mechanism = settings.kafka_sasl_mechanism
        options["sasl_mechanism"] = mechanism
        if mechanism == "OAUTHBEARER":
            options["sasl_oauth_token_provider"] = oauth_provider(settings)
        else:
            options["sasl_plain_username"] = _username(settings)
            options["sasl_plain_password"] = sasl_password(settings)
    return options


class ClientCertificate(BaseSecurity):
    """TLS with a client certificate (mTLS): AsyncAPI's X509 scheme for the server."""

    __slots__ = ()

    def get_requirement(self) -> list[dict[str, Any]]:
        return [{"x509": []}]

    def get_schema(self) -> dict[str, dict[str, str]]:
        return {"x509": {"type": "X509"}}


def broker_security(settings: RuntimeSettings, *, connecting: bool = True) -> dict[str, Any]:
    """faststream's `security` (and the OAUTHBEARER token provider) for its KafkaBroker.

    Without `connecting` (the AsyncAPI document), no file is read and no token asked for:
    the document names the scheme, it does not connect.
    """
    tls = uses_tls(settings)
    context = ssl_context(settings) if connecting and tls else None
    if not uses_sasl(settings):
        if not tls:
            return {"security": None}
        kind = ClientCertificate if settings.kafka_ssl_cert_file else BaseSecurity
        return {"security": kind(ssl_context=context, use_ssl=True)}
    mechanism = settings.kafka_sasl_mechanism
    if mechanism == "OAUTHBEARER":
        return {
            "security": SASLOAuthBearer(ssl_context=context, use_ssl=tls),
            "sasl_oauth_token_provider": oauth_provider(settings) if connecting else None,
        }
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    user = _username(settings) if connecting else (settings.kafka_sasl_username or "")
    password = sasl_password(settings) if connecting else ""
    return {"security": kind[mechanism](user, password, ssl_context=context, use_ssl=tls)}
