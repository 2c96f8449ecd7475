"""The console's indexes are its own migrations (services/console/migrations/<schema>/), applied
by `porgate migrate` after the services' own. A database migrated before, when por-validator's
and the notifier's migration 005 made them, keeps those rows applied and ends with exactly the
indexes of a fresh database; `porgate doctor` finds nothing pending or edited in either."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.catalog import all_services, migrate_all
from services.common.db import Migration, applied_migrations, migrate
from services.console import queries
from services.notifier import store as notifier_store
from services.ops.doctor import Status
from services.ops.doctor_checks import postgres_checks
from services.por_validator import store as validator_store
from services.settings import Settings
from tests.conftest import _with_database

LEGACY = Path(__file__).parent / "legacy_migrations"
# The withdrawn files, verbatim: what deployments recorded when they applied them.
WITHDRAWN = {
    validator_store.SCHEMA: (
        "por_validator_005_console_indexes.sql",
        "a90a68cd4e178cdb07e1f4e22b1c2ddfbac8c8a96d352fabf1dca83174ae5ccc",
    ),
    notifier_store.SCHEMA: (
        "notifier_005_console_indexes.sql",
        "30435428325b5efa51e6ebcb701aef36231c8ff81a9a1013d91d6383f6d82536",
    ),
}
CONSOLE_INDEXES = {
    validator_store.SCHEMA: {
        "decisions_timeline",
        "decisions_distributor_timeline",
        "decisions_by_order",
        "decisions_by_subscription",
        "decisions_by_customer",
        "decisions_by_superseded",
        "decision_lines_by_partner",
    },
    notifier_store.SCHEMA: {"notifications_by_cause"},
}


@pytest.fixture
async def second_database(database_url):
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(database_url, name)
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate_as_the_release_before(url: str, tmp_path: Path) -> None:
    """Each schema as the release that still shipped the 005 files left it."""
    for service in all_services(Settings(database_url=url)):
        folder = service.migrations
        if service.schema in WITHDRAWN:
            folder = tmp_path / service.schema
            shutil.copytree(service.migrations, folder)
            name, _ = WITHDRAWN[service.schema]
            shutil.copy(LEGACY / name, folder / "005_console_indexes.sql")
        await migrate(url, service.schema, folder)


async def indexes(url: str) -> dict[str, set[tuple[str, str]]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT schemaname, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    out: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["schemaname"], set()).add((r["indexname"], r["indexdef"]))
    return out


async def applied(url: str, schema: str) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:
        return await applied_migrations(conn, schema)
    finally:
        await conn.close()


def test_the_withdrawn_files_kept_here_are_the_ones_deployments_applied():
    for name, checksum in WITHDRAWN.values():
        assert Migration("service/005_console_indexes", (LEGACY / name).read_text()).checksum == (
            checksum
        )


async def test_a_fresh_and_an_upgraded_database_end_with_the_same_indexes(
    fresh_database, second_database, tmp_path
):
    fresh, upgraded = fresh_database, second_database
    await migrate_all(Settings(database_url=fresh))
    await migrate_as_the_release_before(upgraded, tmp_path)
    before = await indexes(upgraded)

    done = await migrate_all(Settings(database_url=upgraded))

    # The services have nothing left to apply; the console records its migration, which
    # finds its indexes there already.
    assert {(who, schema): versions for who, schema, versions in done if versions} == {
        (queries.READER, schema): [f"{queries.READER}/001_console_indexes"]
        for schema in queries.MIGRATIONS
    }
    assert await indexes(upgraded) == before == await indexes(fresh)
    for schema, names in CONSOLE_INDEXES.items():
        assert names <= {name for name, _ in before[schema]}
        rows = await applied(upgraded, schema)
        assert rows["service/005_console_indexes"] == WITHDRAWN[schema][1]
        assert f"{queries.READER}/001_console_indexes" in rows
        assert "service/005_console_indexes" not in await applied(fresh, schema)
    for url in (fresh, upgraded):
        checks = await postgres_checks(Settings(database_url=url))
        assert [c for c in checks if c.status is not Status.OK] == []
        assert sum("console" in c.subject for c in checks) == len(queries.MIGRATIONS)


async def test_the_console_migrations_apply_once(fresh_database):
    settings = Settings(database_url=fresh_database)
    await migrate_all(settings)
    assert [versions for _, _, versions in await migrate_all(settings) if versions] == []
