"""A service's schema migrated into a database of its own, for a contract test module; each
case runs in a transaction rolled back after it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.common.db import migrate


@contextlib.asynccontextmanager
async def migrated_database(database_url: str, schema: str, migrations: Path) -> AsyncIterator[str]:
    name = f"c_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(urlsplit(database_url)._replace(path="/" + name))
    await migrate(url, schema, migrations)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def rolled_back(url: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back at the end."""
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield conn
    finally:
        await transaction.rollback()
        await conn.close()
