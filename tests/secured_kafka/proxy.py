"""A TLS- and SASL-terminating Kafka-protocol proxy in front of an unsecured broker.

The embedded Tansu broker cannot enforce SASL by itself (its in-memory storage keeps no
users) nor serve TLS with a key, so it runs behind this proxy and advertises the proxy's
address; every client's connection then goes through here. The proxy terminates TLS,
answers `SaslHandshake` and `SaslAuthenticate` itself (SCRAM with `scramp`, or PLAIN),
states in `ApiVersions` the versions of those two it speaks, and relays every other request
untouched. As Kafka does, it closes a connection that sends anything else before it has
authenticated, and a failed authentication gets error 58 (SASL_AUTHENTICATION_FAILED), then
the connection is closed.

It runs its own event loop in a thread, so that it serves subprocesses and sync fixtures too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import threading
from dataclasses import dataclass, field

from scramp import ScramException, ScramMechanism

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
# What this proxy implements: handshake v0-1 and authenticate v0-1 (non-flexible encodings).
SPOKEN = {SASL_HANDSHAKE: (0, 1), SASL_AUTHENTICATE: (0, 1)}
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58
SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _bytes(raw: bytes) -> bytes:
    return struct.pack(">i", len(raw)) + raw


def _request_header(payload: bytes) -> tuple[int, int, int, int]:
    """api key, api version, correlation id, and where the body starts (header v1)."""
    api_key, version, correlation = struct.unpack_from(">hhi", payload)
    (client_len,) = struct.unpack_from(">h", payload, 8)
    return api_key, version, correlation, 10 + max(client_len, 0)


def patched_api_versions(body: bytes, version: int) -> bytes:
    """An ApiVersions response body (v0-v2) stating this proxy's SASL versions."""
    if version > 2:
        return body  # flexible versions: left as the broker sent them
    error, count = struct.unpack_from(">hi", body)
    entries = {}
    offset = 6
    for _ in range(count):
        key, low, high = struct.unpack_from(">hhh", body, offset)
        entries[key] = (low, high)
        offset += 6
    entries.update(SPOKEN)
    out = struct.pack(">hi", error, len(entries))
    out += b"".join(struct.pack(">hhh", k, lo, hi) for k, (lo, hi) in sorted(entries.items()))
    return out + body[offset:]  # v1+: throttle_time_ms


@dataclass
class Users:
    """The users the proxy accepts, for one mechanism."""

    mechanism: str
    passwords: dict[str, str]
    auth_info: dict[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mechanism in SCRAM:
            scram = ScramMechanism(self.mechanism)
            self.auth_info = {
                u: scram.make_auth_info(p, iteration_count=4096) for u, p in self.passwords.items()
            }


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Sasl:
    """One connection's SASL exchange, token by token."""

    def __init__(self, users: Users) -> None:
        self.users = users
        self.done = False
        self._server = None

    def step(self, token: bytes) -> bytes:
        if self.users.mechanism == "PLAIN":
            _, user, password = token.decode().split("\0")
            if self.users.passwords.get(user) != password:
                raise _Refused(SASL_AUTHENTICATION_FAILED, "invalid credentials (PLAIN)")
            self.done = True
            return b""
        try:
            if self._server is None:
                auth = self.users.auth_info
                self._server = ScramMechanism(self.users.mechanism).make_server(
                    lambda user: auth[user]
                )
                self._server.set_client_first(token.decode())
                return self._server.get_server_first().encode()
            self._server.set_client_final(token.decode())
            self.done = True
            return self._server.get_server_final().encode()
        except (ScramException, KeyError, ValueError):
            raise _Refused(
                SASL_AUTHENTICATION_FAILED,
                f"Authentication failed during authentication due to invalid credentials"
                f" with SASL mechanism {self.users.mechanism}",
            ) from None


class KafkaProxy:
    """Listens on `port` (TLS with `tls`; SASL with `users`), relays to the broker upstream."""

    def __init__(
        self,
        port: int,
        upstream_port: int,
        *,
        tls: ssl.SSLContext | None = None,
        users: Users | None = None,
    ) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self.tls = tls
        self.users = users
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.authentications = {"ok": 0, "failed": 0}

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(10)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        try:
            if await self._authenticate(client_r, client_w, up_r, up_w):
                await asyncio.gather(_pump(client_r, up_w), _pump(up_r, client_w))
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # a client gone, or a TLS handshake it refused: its own error says why
        finally:
            for writer in (client_w, up_w):
                with contextlib.suppress(Exception):
                    writer.close()

    async def _authenticate(self, client_r, client_w, up_r, up_w) -> bool:
        """Until authenticated, request by request: ApiVersions relayed (patched), the SASL
        requests answered here, anything else refused by closing."""
        sasl = _Sasl(self.users) if self.users is not None else None
        handshaken = False
        while sasl is not None and not sasl.done:
            payload = await _read_frame(client_r)
            api_key, version, correlation, body_at = _request_header(payload)
            if api_key == API_VERSIONS:
                up_w.write(_frame(payload))
                response = await _read_frame(up_r)
                patched = patched_api_versions(response[4:], version)
                client_w.write(_frame(response[:4] + patched))
            elif api_key == SASL_HANDSHAKE:
                (length,) = struct.unpack_from(">h", payload, body_at)
                mechanism = payload[body_at + 2 : body_at + 2 + length].decode()
                ok = mechanism == self.users.mechanism  # type: ignore[union-attr]
                handshaken = ok
                client_w.write(
                    _frame(
                        struct.pack(">ih", correlation, 0 if ok else UNSUPPORTED_SASL_MECHANISM)
                        + struct.pack(">i", 1)
                        + _string(self.users.mechanism)  # type: ignore[union-attr]
                    )
                )
            elif api_key == SASL_AUTHENTICATE and handshaken:
                (length,) = struct.unpack_from(">i", payload, body_at)
                token = payload[body_at + 4 : body_at + 4 + length]
                try:
                    answer, code, message = sasl.step(token), 0, None
                except _Refused as refused:
                    answer, code, message = b"", refused.code, str(refused)
                tail = struct.pack(">q", 0) if version >= 1 else b""
                client_w.write(
                    _frame(
                        struct.pack(">ih", correlation, code)
                        + _string(message)
                        + _bytes(answer)
                        + tail
                    )
                )
                await client_w.drain()
                if code:
                    self.authentications["failed"] += 1
                    return False
            else:
                return False  # Kafka closes a connection that skips authentication
            await client_w.drain()
        if sasl is not None:
            self.authentications["ok"] += 1
        return True


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()
