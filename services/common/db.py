"""PostgreSQL access: one pool per service, pinned to the service's own schema, and migrations."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
# What a store's reads run on: a transaction's connection, or the pool for a lone statement.
Executor = asyncpg.Connection | asyncpg.Pool
_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FILE_RE = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")


def _check_schema(schema: str) -> str:
    # Identifiers cannot be bound as parameters; only our own fixed names reach here.
    if not _SCHEMA_RE.fullmatch(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return schema


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """Nothing to reset: porgate keeps no session state on pooled connections (the search
    path is a connection setting, locks are transaction-scoped), and asyncpg still rolls back
    an open transaction. Its default reset is a round trip on every release."""


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 5,
    extra_settings: dict[str, str] | None = None,
) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={
            "search_path": _check_schema(schema),
            "application_name": f"porgate-{schema}",
            **(extra_settings or {}),
        },
        command_timeout=60,
        reset=_no_session_state,
    )


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(*folders: Path, owner: str = "service") -> list[Migration]:
    """Runtime tables (inbox, outbox) first, then the service's own, each in file order.
    Versions read `runtime/NNN_name` and `{owner}/NNN_name`."""
    out: list[Migration] = []
    for folder in folders:
        prefix = "runtime" if folder == RUNTIME_MIGRATIONS else owner
        for path in sorted(folder.glob("*.sql")):
            if not _FILE_RE.fullmatch(path.name):
                raise ValueError(f"migration file name {path.name!r} is not NNN_name.sql")
            out.append(Migration(f"{prefix}/{path.stem}", path.read_text()))
    return out


def wanted_migrations(folder: Path, reader: str | None = None) -> list[Migration]:
    """A service's migrations, the runtime's first; or, for a `reader` of the schema (the
    console), only its own (its indexes on the service's tables), as `{reader}/NNN_name`."""
    if reader is None:
        return load_migrations(RUNTIME_MIGRATIONS, folder)
    return load_migrations(folder, owner=reader)


async def migrate(dsn: str, schema: str, folder: Path, *, reader: str | None = None) -> list[str]:
    """Apply what is missing of the runtime's and `folder`'s migrations to `schema`; with a
    `reader`, of that reader's `folder` only, after the service's own (see wanted_migrations).

    An advisory lock serialises concurrent migrators (several replicas starting at once),
    and a checksum mismatch stops the run: an applied migration must never change. A
    migration that is applied and no longer shipped is left as it is (its row stays).
    """
    schema = _check_schema(schema)
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"porgate-migrate:{schema}")
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(f"SET search_path TO {schema}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"]: r["checksum"]
                for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
            }
            for m in wanted_migrations(folder, reader):
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise RuntimeError(
                            f"{schema}: applied migration {m.version} was edited afterwards"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                        m.version,
                        m.checksum,
                    )
                applied_now.append(m.version)
                log.info("migration applied", extra={"schema": schema, "version": m.version})
        finally:
            await conn.execute(
                "SELECT pg_advisory_unlock(hashtext($1))", f"porgate-migrate:{schema}"
            )
    finally:
        await conn.close()
    return applied_now


async def applied_migrations(conn: asyncpg.Connection, schema: str) -> dict[str, str]:
    """The migrations applied to `schema`, version to checksum (UndefinedTableError when none)."""
    schema = _check_schema(schema)
    rows = await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}
