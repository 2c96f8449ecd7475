"""Coalescing: bookkeeping handed over batch by batch, flushed in bulk, never lost."""

from __future__ import annotations

import asyncio

from services.common.coalesce import Coalescing


class Recorder:
    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.flushes: list[list[int]] = []
        self.fail_first = fail_first
        self.delay_s = delay_s

    async def __call__(self, items: list[int]) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("flush failed")
        self.flushes.append(items)


async def test_the_first_items_after_a_quiet_spell_are_flushed_at_once():
    flush = Recorder()
    c = Coalescing("t", flush, every_s=10.0)
    c.add([1, 2])
    await asyncio.sleep(0.01)
    assert flush.flushes == [[1, 2]]
    c.cancel()


async def test_what_arrives_during_a_flush_goes_in_one_later_flush():
    flush = Recorder(delay_s=0.05)
    c = Coalescing("t", flush)
    c.add([1])
    await asyncio.sleep(0.01)  # the first flush is running
    for i in range(2, 6):
        c.add([i])
    await c.drain()
    assert flush.flushes == [[1], [2, 3, 4, 5]]


async def test_a_steady_stream_is_flushed_at_most_once_per_interval():
    flush = Recorder()
    c = Coalescing("t", flush, every_s=0.1)
    for i in range(30):
        c.add([i])
        await asyncio.sleep(0.01)
    await c.drain()
    assert [i for items in flush.flushes for i in items] == list(range(30))
    assert 2 <= len(flush.flushes) <= 5


async def test_drain_flushes_now_without_waiting_out_the_interval():
    flush = Recorder()
    c = Coalescing("t", flush, every_s=30.0)
    c.add([1])
    await asyncio.sleep(0.01)
    c.add([2])  # waits behind the 30 s interval
    await asyncio.wait_for(c.drain(), timeout=1.0)
    assert flush.flushes == [[1], [2]]


async def test_concurrent_drains_all_return_promptly():
    flush = Recorder(delay_s=0.02)
    c = Coalescing("t", flush, every_s=30.0)
    c.add([1])
    await asyncio.sleep(0.001)
    c.add([2])
    await asyncio.wait_for(asyncio.gather(c.drain(), c.drain(), c.drain()), timeout=1.0)
    c.add([3])
    await asyncio.wait_for(c.drain(), timeout=1.0)
    assert flush.flushes == [[1], [2], [3]]


async def test_a_failed_flush_does_not_stop_later_ones(caplog):
    flush = Recorder(fail_first=1)
    c = Coalescing("offsets", flush)
    c.add([1])
    await c.drain()
    c.add([2])
    await c.drain()
    assert flush.flushes == [[2]]
    assert "offsets failed" in caplog.text


async def test_cancel_returns_the_running_flush_to_await():
    flush = Recorder(delay_s=1.0)
    c = Coalescing("t", flush)
    assert c.cancel() is None
    c.add([1])
    await asyncio.sleep(0.01)
    task = c.cancel()
    assert task is not None
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
