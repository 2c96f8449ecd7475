"""The console's dead letters on the real broker: a redrive reads all its letters with one
consumer and is bounded, a missing partition is a clear 4xx, and a distributor finds its
letters however many of others' are newer."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from services.console.operations import MAX_LISTED, MAX_REDRIVE
from services.ops import dead_letters
from tests.console.conftest import KEY_EU, OPERATOR_KEY, console_server
from tests.console.test_access import signed_in
from tests.e2e import registry_data as R


async def put_letters(settings, orders: list[tuple[str, str]]) -> None:
    """Dead letters of these (order id, distributor), as the runtime writes them."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for order_id, distributor in orders:
            await producer.send(
                settings.topic_prefix + "por.dlq.v1",
                json.dumps(R.order(order_id, R.VALID, dist=distributor)).encode(),
                key=order_id.encode(),
                headers=[
                    ("x-dlq-source-topic", b"csp.orders.v1"),
                    ("x-dlq-error", b"test"),
                    ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
                ],
            )
        await producer.flush()
    finally:
        await producer.stop()


def listed(page: str) -> list[str]:
    return re.findall(r'name="letter" value="(\d+:\d+)"', page)


@contextlib.contextmanager
def counting_consumers(monkeypatch):
    """How many DLQ readers the console opens (the real ones, counted)."""
    opened = []
    real = dead_letters.reader

    def counted(settings):
        opened.append(1)
        return real(settings)

    monkeypatch.setattr(dead_letters, "reader", counted)
    yield opened


async def test_dead_letters_one_consumer_per_post_bounded_and_a_distributors_own_found(
    migrated, monkeypatch
):
    settings = migrated
    mine = [(f"ord-eu-{n}", R.DIST) for n in range(30)]
    theirs = [(f"ord-ja-{n}", R.DIST_JA) for n in range(MAX_LISTED + 50)]
    await put_letters(settings, mine)
    await put_letters(settings, theirs)  # newer than every one of the EU distributor's
    async with console_server(settings) as url:
        async with signed_in(url, KEY_EU) as (client, csrf):
            page = await client.get("/console/dead-letters")
            assert page.status_code == 200
            eu_letters = listed(page.text)
            assert len(eu_letters) == len(mine), "its letters, behind 550 newer of another's"

            with counting_consumers(monkeypatch) as opened:
                r = await client.post(
                    "/console/dead-letters/redrive",
                    data={"csrf": csrf, "letter": eu_letters, "mode": "preview"},
                )
            assert r.status_code == 200, r.text
            assert f"{len(mine)} dead letter(s) would be published again" in r.text
            assert len(opened) == 1  # one consumer for all 30

            too_many = [f"0:{n}" for n in range(MAX_REDRIVE + 1)]
            r = await client.post(
                "/console/dead-letters/redrive",
                data={"csrf": csrf, "letter": too_many, "mode": "preview"},
            )
            assert r.status_code == 400 and "Traceback" not in r.text

        async with signed_in(url, OPERATOR_KEY) as (operator, csrf):
            for letters in (["99:0"], ["99:0", "0:999999"]):
                r = await operator.post(
                    "/console/dead-letters/redrive",
                    data={"csrf": csrf, "letter": letters, "mode": "redrive"},
                )
                assert r.status_code == 404, r.text
                assert "No dead letter at 99/0" in r.text
