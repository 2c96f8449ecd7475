"""Exit codes, and the one place an unreachable server becomes one line and its code.

Every command group is built with `GuardedGroup`: whatever a command calls, an error that
means "could not reach Kafka / PostgreSQL / a remote API" or "the settings are invalid"
ends the command with one line on stderr naming what, and the kind's exit code, instead
of a traceback. Anything else is a bug and keeps its traceback. docs/cli.md lists the codes.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from urllib.parse import parse_qs, urlsplit

import aiokafka.errors as kafka_errors
import asyncpg
import httpx
import pydantic
import tenacity
import typer
from typer.core import TyperGroup

from services.common.kafka_security import KafkaSettingError, KafkaSetupError
from services.partner_center.errors import Unavailable as PartnerCenterUnavailable


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the command ran and reports a failure (nothing found, some items failed)
    USAGE = 2  # bad arguments, or a bulk change without --yes when nobody can be asked
    KAFKA = 3  # the Kafka brokers could not be reached
    POSTGRES = 4  # PostgreSQL could not be reached, refused us, or is not migrated
    REMOTE = 5  # a remote API (Partner Center, Entra ID, Microsoft Graph, a webhook)
    CONFIG = 6  # invalid PORGATE_* settings, or a local port already taken
    BAD_ROWS = 7  # an import read some rows it could not use (each reported by line)


@dataclass(frozen=True)
class Problem:
    code: ExitCode
    line: str


KAFKA_ERRORS = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.NodeNotReadyError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.RequestTimedOutError,
)
POSTGRES_ERRORS = (
    asyncpg.PostgresConnectionError,  # refused, gone, cannot connect now
    asyncpg.InvalidAuthorizationSpecificationError,  # unknown role, wrong password
    asyncpg.InvalidCatalogNameError,  # no such database
    asyncpg.TooManyConnectionsError,
)
NOT_MIGRATED = (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError)
# Connection failures below the libraries arrive as plain OSErrors; the frame that raised
# says whose connection it was.
_LIBRARY_KINDS = {
    "asyncpg": ExitCode.POSTGRES,
    "aiokafka": ExitCode.KAFKA,
    "httpx": ExitCode.REMOTE,
    "httpcore": ExitCode.REMOTE,
}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what it wraps: causes, contexts, group members, retried attempts."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        if isinstance(e, tenacity.RetryError):
            stack.append(e.last_attempt.exception())
        stack.extend((e.__cause__, e.__context__))


def _library_of(exc: BaseException) -> ExitCode | None:
    kind = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        top = frame.f_globals.get("__name__", "").split(".")[0]
        kind = _LIBRARY_KINDS.get(top, kind)
    return kind


def _detail(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, socket.gaierror):
        text = f"cannot resolve the host: {exc.strerror or text}"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    text = text.removeprefix(f"{type(exc).__name__}: ")  # aiokafka's errors name themselves
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def postgres_where(url: str) -> str:
    """Where a PostgreSQL URL points, without its password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = query.get("port", [str(parts.port or 5432)])[0]
    database = parts.path.lstrip("/") or (parts.username or "")
    if host.startswith("/"):
        return f"database {database!r} on the socket in {host} (port {port})"
    return f"{host}:{port}/{database}"


def _setting(name: str, default: str) -> str:
    # Read here, not from get_settings(): the settings themselves may be what failed.
    return os.environ.get(f"PORGATE_{name}", default)


def _kafka_line(detail: str) -> str:
    servers = _setting("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    return (
        f"porgate: cannot reach Kafka at {servers} ({detail});"
        " is it running, and is PORGATE_KAFKA_BOOTSTRAP_SERVERS right?"
    )


def _postgres_line(detail: str) -> str:
    where = postgres_where(_setting("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/porgate"))
    return (
        f"porgate: cannot reach PostgreSQL at {where} ({detail});"
        " is it running, and is PORGATE_DATABASE_URL right?"
    )


def _remote_line(exc: BaseException, detail: str) -> str:
    if isinstance(exc, PartnerCenterUnavailable):
        return f"porgate: cannot reach Partner Center ({detail})"
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx has one only once a request was built
        return f"porgate: cannot reach a remote API ({detail})"
    return f"porgate: cannot reach {url.scheme}://{url.netloc.decode()} ({detail})"


def problem_of(exc: BaseException) -> Problem | None:
    """What an error means for the operator, if it is one of the kinds with an exit code."""
    for e in _causes(exc):
        if isinstance(e, pydantic.ValidationError) and e.title == "Settings":
            first = e.errors()[0]
            name = "PORGATE_" + "_".join(map(str, first["loc"])).upper()
            return Problem(ExitCode.CONFIG, f"porgate: invalid setting {name}: {first['msg']}")
        # Already one line saying what failed and which setting fixes it (docs/kafka.md).
        if isinstance(e, KafkaSettingError):
            return Problem(ExitCode.CONFIG, f"porgate: {e}")
        if isinstance(e, KafkaSetupError):
            return Problem(ExitCode.KAFKA, f"porgate: {e}")
        if isinstance(e, KAFKA_ERRORS):
            return Problem(ExitCode.KAFKA, _kafka_line(_detail(e)))
        if isinstance(e, NOT_MIGRATED):
            where = postgres_where(_setting("DATABASE_URL", ""))
            return Problem(
                ExitCode.POSTGRES,
                f"porgate: PostgreSQL at {where} has no porgate tables yet ({_detail(e)});"
                " run `porgate migrate`",
            )
        if isinstance(e, POSTGRES_ERRORS):
            return Problem(ExitCode.POSTGRES, _postgres_line(_detail(e)))
        if isinstance(e, PartnerCenterUnavailable | httpx.TransportError):
            return Problem(ExitCode.REMOTE, _remote_line(e, _detail(e)))
        if isinstance(e, OSError | TimeoutError):
            kind = _library_of(e)
            if kind is ExitCode.POSTGRES:
                return Problem(kind, _postgres_line(_detail(e)))
            if kind is ExitCode.KAFKA:
                return Problem(kind, _kafka_line(_detail(e)))
            if kind is ExitCode.REMOTE:
                return Problem(kind, _remote_line(e, _detail(e)))
    return None


class GuardedGroup(TyperGroup):
    """A command group whose commands end in one line and an exit code when a server is away."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # typer's own (exits, usage errors) pass: an inner group may have said it already.
            problem = None if type(exc).__module__.startswith("typer") else problem_of(exc)
            if problem is None:
                raise
            typer.echo(problem.line, err=True)
            raise typer.Exit(problem.code) from None


def command_group(help: str) -> typer.Typer:
    """A command group (a typer app) whose commands are guarded."""
    return typer.Typer(help=help, no_args_is_help=True, cls=GuardedGroup)


def fail(line: str, code: ExitCode = ExitCode.FAILED) -> typer.Exit:
    """One line on stderr, and the exception that ends the command with `code`."""
    typer.echo(line, err=True)
    return typer.Exit(code)
