"""Embedded Tansu behind the TLS and SASL proxy: a broker that enforces what porgate's
`PORGATE_KAFKA_*` settings configure, and the settings that reach it."""

from __future__ import annotations

import contextlib
import secrets
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.common.ports import free_port
from services.devtools.embedded import EmbeddedKafka
from tests.secured_kafka.certs import Pki, make_pki
from tests.secured_kafka.proxy import KafkaProxy, Users

USER = "porgate"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class SecuredKafka:
    proxy: KafkaProxy
    pki: Pki
    password: str
    sasl: bool

    @property
    def bootstrap_servers(self) -> str:
        return self.proxy.bootstrap_servers

    def env(self, **overrides: str) -> dict[str, str]:
        """The `PORGATE_KAFKA_*` variables of a client of this broker."""
        env = {
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "PORGATE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL" if self.sasl else "SSL",
            "PORGATE_KAFKA_SSL_CA_FILE": str(self.pki.ca_file),
        }
        if self.sasl:
            env |= {
                "PORGATE_KAFKA_SASL_MECHANISM": MECHANISM,
                "PORGATE_KAFKA_SASL_USERNAME": USER,
                "PORGATE_KAFKA_SASL_PASSWORD": self.password,
            }
        return env | overrides

    def settings_values(self, **overrides: str) -> dict[str, str]:
        """The same as Settings keyword arguments."""
        return {k.removeprefix("PORGATE_").lower(): v for k, v in self.env(**overrides).items()}


@contextlib.contextmanager
def secured_kafka(*, sasl: bool = True, folder: Path | None = None) -> Iterator[SecuredKafka]:
    """TLS always (the broker's certificate signed by a test CA), SCRAM-SHA-512 with `sasl`."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="porgate-pki-")))
        pki = make_pki(folder)
        password = secrets.token_urlsafe(16)
        proxy_port = free_port()
        tansu = EmbeddedKafka(advertised_port=proxy_port)
        tansu.start()
        stack.callback(tansu.stop)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(pki.cert_file, pki.key_file)
        users = Users(MECHANISM, {USER: password}) if sasl else None
        proxy = KafkaProxy(proxy_port, tansu.port, tls=tls, users=users)
        proxy.start()
        stack.callback(proxy.stop)
        yield SecuredKafka(proxy, pki, password, sasl)
