"""por-validator's cache of Partner Center's answers, in memory and in PostgreSQL: an answer is
reused while it is younger than the TTL wherever it is found, and never after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.partner_center.models import CallRecord, Validation, ValidationResult
from services.por_validator import answer_store, store
from services.por_validator.partner_center import CachedPartnerCenter
from tests.contract.databases import migrated_database

DIST = "dist-eu-1"


class CountingPartnerCenter:
    """Answers every id valid, answered `age` ago, and counts the ids asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.age = timedelta(0)

    async def validate_resellers(self, distributor_id, partner_ids, *, event_id=None, patient=True):
        self.asked += partner_ids
        at = datetime.now(UTC) - self.age
        return [
            Validation(
                ValidationResult(partner_id=pid, is_valid_partner_id_on_record=True),
                CallRecord("req", "corr", at),
            )
            for pid in partner_ids
        ]


@pytest.fixture
async def pool(database_url) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_database(
        database_url, store.SCHEMA, Path(store.__file__).parent / "migrations"
    ) as url:
        p = await asyncpg.create_pool(url, server_settings={"search_path": store.SCHEMA})
        try:
            yield p
        finally:
            await p.close()


async def test_a_fresh_answer_is_reused_from_memory_without_asking_again(pool):
    pc = CountingPartnerCenter()
    cached = CachedPartnerCenter(pc, ttl_s=300)
    await cached.answers(pool, DIST, ["1234567", "7654321"])
    await pool.execute("DELETE FROM partner_center_answers")  # memory alone must serve now
    again = await cached.answers(pool, DIST, ["1234567", "7654321"])
    assert sorted(again) == ["1234567", "7654321"] and pc.asked == ["1234567", "7654321"]


async def test_another_process_reuses_what_postgresql_holds(pool):
    pc = CountingPartnerCenter()
    await CachedPartnerCenter(pc, ttl_s=300).answers(pool, DIST, ["1234567"])
    other = CachedPartnerCenter(pc, ttl_s=300)  # a replica, or after a restart
    assert (await other.answers(pool, DIST, ["1234567"]))["1234567"].valid
    assert pc.asked == ["1234567"]
    assert (
        len(
            await answer_store.fresh_answers(
                pool, DIST, ["1234567"], datetime(2000, 1, 1, tzinfo=UTC)
            )
        )
        == 1
    )


async def test_a_new_process_reads_a_distributors_fresh_answers_whole_on_its_first_miss(pool):
    pc = CountingPartnerCenter()
    await CachedPartnerCenter(pc, ttl_s=300).answers(pool, DIST, ["1111111", "2222222"])
    await CachedPartnerCenter(pc, ttl_s=300).answers(pool, "dist-us-1", ["3333333"])
    restarted = CachedPartnerCenter(pc, ttl_s=300)
    assert (await restarted.answers(pool, DIST, ["1111111"]))["1111111"].valid
    await pool.execute("DELETE FROM partner_center_answers")  # what it read must serve now
    again = await restarted.answers(pool, DIST, ["2222222", "1111111"])
    assert sorted(again) == ["1111111", "2222222"]  # only what was asked for
    assert pc.asked == ["1111111", "2222222", "3333333"]  # nothing asked twice
    # Another distributor's answers were not read: asked again, as they are gone.
    assert (await restarted.answers(pool, "dist-us-1", ["3333333"]))["3333333"].valid
    assert pc.asked == ["1111111", "2222222", "3333333", "3333333"]


async def test_a_whole_read_cut_off_at_the_memorys_size_still_finds_what_was_asked(
    pool, monkeypatch
):
    from services.por_validator import partner_center

    pc = CountingPartnerCenter()
    await CachedPartnerCenter(pc, ttl_s=300).answers(pool, DIST, ["1111111", "2222222"])
    monkeypatch.setattr(partner_center, "MEMORY_ANSWERS", 1)  # the read stops at "1111111"
    restarted = CachedPartnerCenter(pc, ttl_s=300)
    assert (await restarted.answers(pool, DIST, ["2222222"]))["2222222"].valid
    assert pc.asked == ["1111111", "2222222"]  # found in PostgreSQL, not asked again


async def test_an_answer_older_than_the_ttl_is_asked_again_even_from_memory(pool):
    pc = CountingPartnerCenter()
    pc.age = timedelta(seconds=290)  # answered 290 s ago: fresh for 10 s more with a 300 s TTL
    cached = CachedPartnerCenter(pc, ttl_s=300)
    await cached.answers(pool, DIST, ["1234567"])
    await cached.answers(pool, DIST, ["1234567"])
    assert pc.asked == ["1234567"]
    cached.ttl = timedelta(seconds=280)  # now older than the TTL, in memory and in PostgreSQL
    await cached.answers(pool, DIST, ["1234567"])
    assert pc.asked == ["1234567", "1234567"]


async def test_a_ttl_of_zero_asks_every_time(pool):
    pc = CountingPartnerCenter()
    cached = CachedPartnerCenter(pc, ttl_s=0)
    await cached.answers(pool, DIST, ["1234567"])
    await cached.answers(pool, DIST, ["1234567"])
    assert pc.asked == ["1234567", "1234567"]
