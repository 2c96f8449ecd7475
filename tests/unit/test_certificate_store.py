"""The webhook's certificate fetching cannot stall the receiver: one fetch per URL at a time
(not one for all), failures remembered briefly, and an oversized answer cut off while read."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from services.partner_center import event_signature as sig
from services.partner_center.event_signer import EventSigner

HOST = "https://certs.test"


class Host:
    def __init__(self) -> None:
        self.der = EventSigner().certificate.public_bytes(serialization.Encoding.DER)
        self.asked: list[str] = []
        self.release_slow = asyncio.Event()
        self.streamed = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(str(request.url))
        name = request.url.path.rsplit("/", 1)[-1]
        if name == "slow.cer":
            await self.release_slow.wait()
        if name == "down.cer":
            return httpx.Response(503)
        if name == "endless.cer":
            return httpx.Response(200, stream=_Endless(self))
        return httpx.Response(200, content=self.der)

    def store(self) -> sig.CertificateStore:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return sig.CertificateStore(sig.allowed_hosts(HOST), ttl_s=3600, http=http)


class _Endless(httpx.AsyncByteStream):
    def __init__(self, host: Host) -> None:
        self.host = host

    async def __aiter__(self):
        while True:
            self.host.streamed += 4096
            yield b"\x30" * 4096


async def test_a_query_or_fragment_names_the_same_certificate_fetched_once_without_them():
    host = Host()
    store = host.store()
    try:
        for n in range(5):
            await store.certificate(f"{HOST}/cert/pc.cer?v={n}#x")
        assert host.asked == [f"{HOST}/cert/pc.cer"]
    finally:
        await store.aclose()


async def test_a_burst_shares_one_fetch_and_a_slow_url_holds_up_no_other():
    host = Host()
    store = host.store()
    try:
        slow = [asyncio.create_task(store.certificate(f"{HOST}/cert/slow.cer")) for _ in range(5)]
        await asyncio.sleep(0.05)
        # Served while the slow certificate is still being fetched.
        await asyncio.wait_for(store.certificate(f"{HOST}/cert/pc.cer"), 2)
        host.release_slow.set()
        await asyncio.gather(*slow)
        assert host.asked.count(f"{HOST}/cert/slow.cer") == 1
    finally:
        await store.aclose()


async def test_a_failed_fetch_answers_for_its_url_briefly(monkeypatch):
    host = Host()
    store = host.store()
    try:
        for _ in range(3):
            with pytest.raises(sig.CertificateUnavailable):
                await store.certificate(f"{HOST}/cert/down.cer")
        assert host.asked == [f"{HOST}/cert/down.cer"]
        monkeypatch.setattr(sig, "FAILURE_TTL_S", 0.0)
        store._failed.clear()
        for _ in range(2):
            with pytest.raises(sig.CertificateUnavailable):
                await store.certificate(f"{HOST}/cert/down.cer")
        assert len(host.asked) == 3  # not remembered: asked each time
    finally:
        await store.aclose()


async def test_an_oversized_answer_is_cut_off_while_it_is_read():
    host = Host()
    store = host.store()
    try:
        with pytest.raises(sig.Rejected, match="more than"):
            await store.certificate(f"{HOST}/cert/endless.cer")
        assert host.streamed <= sig.MAX_CERT_BYTES + 4096
    finally:
        await store.aclose()
