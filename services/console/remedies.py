"""The console's way to remediation and re-check: por-validator's `remediation_for` and
`Rechecker`, as `porgate remediation`, `porgate recheck` and the API use them, with the clients
they need (Partner Center's, when it is the authority; a producer for the releases) opened at
first use, as the console's pools are, and closed with the console."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from services.common.kafka_clients import start_producer
from services.common.rate_limit import RateLimiter
from services.domain.regions import RegionTable
from services.domain.remediation import Remediation
from services.partner_center.client import PartnerCenterClient
from services.por_validator.recheck import Recheck, Rechecker
from services.por_validator.remediation import PartnerCenterAuthority, remediation_for
from services.settings import Settings

# A page is waiting: a short budget for Partner Center's Retry-After, as the API's.
THROTTLE_WAIT_S = 5.0


class Remedies:
    def __init__(self, settings: Settings, regions: RegionTable) -> None:
        self.settings = settings
        self.regions = regions
        # Per key, as the API's: one person cannot take Partner Center's quota from the rest.
        self.limiter = RateLimiter(settings.recheck_rate_per_key, time.monotonic)
        self._client: PartnerCenterClient | None = None
        self._authority: PartnerCenterAuthority | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    def _partner_center(self) -> PartnerCenterAuthority | None:
        if self.settings.por_authority != "partner-center":
            return None
        if self._authority is None:
            wait = min(self.settings.partner_center_max_throttle_wait_s, THROTTLE_WAIT_S)
            self._client = PartnerCenterClient.from_settings(
                self.settings.model_copy(update={"partner_center_max_throttle_wait_s": wait})
            )
            self._authority = PartnerCenterAuthority.of(
                self._client, self.settings.partner_center_cache_ttl_s
            )
        return self._authority

    async def remediations(
        self, pool: asyncpg.Pool, distributor_id: str, partner_ids: list[str], language: str
    ) -> dict[str, Remediation]:
        """Each PLA id's remediation for the distributor now, as the API gives it."""
        authority = self._partner_center()
        return {
            pid: await remediation_for(pool, pid, distributor_id, self.regions, language, authority)
            for pid in partner_ids
        }

    def retry_after(self, key_id: str) -> int | None:
        """None when this key may re-check now (it is counted), else seconds to wait."""
        return self.limiter.retry_after(key_id)

    async def recheck(self, pool: asyncpg.Pool, partner_id: str, distributor_id: str) -> Recheck:
        """Raises a PartnerCenterError when Partner Center is the authority and gives no answer."""
        authority = self._partner_center()
        rechecker = Rechecker(
            pool=pool,
            producer=await self._started_producer(),
            regions=self.regions,
            enforcement_start=self.settings.enforcement_start,
            window=timedelta(seconds=self.settings.release_window),
            topic_prefix=self.settings.topic_prefix,
            client=self._client if authority is not None else None,
            cache_ttl_s=self.settings.partner_center_cache_ttl_s,
        )
        return await rechecker.recheck(partner_id, distributor_id)

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                # A failure to start closes it (start_client): the next re-check tries again.
                self._producer = await start_producer(
                    self.settings, client_id=f"porgate-{self.settings.instance_id}-console"
                )
            return self._producer

    async def aclose(self) -> None:
        producer, self._producer = self._producer, None
        client, self._client, self._authority = self._client, None, None
        if producer is not None:
            await producer.stop()
        if client is not None:
            await client.aclose()
