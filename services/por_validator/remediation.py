"""Remediation's I/O: the registry slice of a PLA id and its organisation, the distributor's
partnership-request link, and, where Partner Center is the authority, its answers for the
id and the organisation's other ids and the reseller's MPA status (both through their
caches). The API, `porgate remediation` and the console call `remediation_for`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from services.domain.alternatives import organisation_pla_ids, passing_alternatives
from services.domain.authority import Answer
from services.domain.por_rules import Registry, normalize_partner_id
from services.domain.regions import RegionTable
from services.domain.remediation import Context, Remediation, remediate
from services.partner_center.errors import PartnerCenterError
from services.partner_center.port import PartnerCenter
from services.por_validator import agreement_store, remediation_store, store
from services.por_validator.partner_center import CachedPartnerCenter

log = logging.getLogger(__name__)


class CachedAgreements:
    """A reseller's MPA status for one distributor, through the cache (as validations)."""

    def __init__(self, client: PartnerCenter, ttl_s: float) -> None:
        self.client = client
        self.ttl = timedelta(seconds=ttl_s)

    async def signed(self, pool: asyncpg.Pool, distributor_id: str, partner_id: str) -> bool:
        """Raises a PartnerCenterError when Partner Center gives no answer."""
        since = datetime.now(UTC) - self.ttl
        cached = await agreement_store.fresh_agreement(pool, distributor_id, partner_id, since)
        if cached is not None:
            return cached
        status = await self.client.agreement_status(distributor_id, partner_id)
        await agreement_store.record_agreement(pool, distributor_id, status)
        return status.signed


@dataclass(frozen=True)
class PartnerCenterAuthority:
    """Partner Center's answers, when PORGATE_POR_AUTHORITY=partner-center."""

    answers: CachedPartnerCenter
    agreements: CachedAgreements

    @classmethod
    def of(cls, client: PartnerCenter, ttl_s: float) -> PartnerCenterAuthority:
        return cls(CachedPartnerCenter(client, ttl_s), CachedAgreements(client, ttl_s))


async def remediation_registry(
    conn: asyncpg.Connection | asyncpg.Pool,
    partner_id: str,
    distributor_id: str,
    regions: RegionTable,
) -> tuple[Registry, str | None]:
    """The registry slice of the id and its organisation's accounts (each knowing its PGA),
    and the distributor's partnership-request link."""
    pid = normalize_partner_id(partner_id)
    organisation = await remediation_store.organisation_accounts(conn, pid) if pid else {}
    registry = await store.registry_for(
        conn, [partner_id, *organisation], (distributor_id,), regions
    )
    for account_id, global_id in organisation.items():
        account = registry.accounts.get(account_id)
        if account is not None:
            registry.accounts[account_id] = dataclasses.replace(
                account, global_partner_id=global_id
            )
    url = await remediation_store.partnership_request_url(conn, distributor_id)
    return registry, url


async def remediation_for(
    pool: asyncpg.Pool,
    partner_id: str,
    distributor_id: str,
    regions: RegionTable,
    language: str,
    authority: PartnerCenterAuthority | None = None,
) -> Remediation:
    """What to do about this PLA id for this distributor now, and what would pass instead.

    With Partner Center as the authority its answers decide (the id, the suggestions) and a
    refusal brings its MPA status; where it cannot answer (no credentials, an outage), the
    registry does, as the validator would."""
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        registry, url = await remediation_registry(conn, partner_id, distributor_id, regions)
    context = Context(partnership_request_url=url)
    answers = None
    pid = normalize_partner_id(partner_id)
    if authority is not None and pid is not None:
        answers = await _answers(pool, authority, distributor_id, pid, registry)
    if answers is None:
        suggestions = passing_alternatives(registry, partner_id, distributor_id)
        context = dataclasses.replace(context, suggestions=tuple(suggestions))
        return remediate(partner_id, distributor_id, registry, language, context)
    answer = answers[pid]
    mpa = None
    if not answer.valid:
        try:
            mpa = await authority.agreements.signed(pool, distributor_id, pid)
        except PartnerCenterError as exc:  # no app+user credentials, an outage: unknown
            log.info("no MPA status", extra={"distributor_id": distributor_id, "error": str(exc)})
    passes = lambda other: other in answers and answers[other].valid
    context = dataclasses.replace(
        context,
        partner_center=answer,
        mpa_signed=mpa,
        suggestions=tuple(passing_alternatives(registry, partner_id, distributor_id, passes)),
    )
    return remediate(partner_id, distributor_id, registry, language, context)


async def _answers(
    pool: asyncpg.Pool,
    authority: PartnerCenterAuthority,
    distributor_id: str,
    pid: str,
    registry: Registry,
) -> dict[str, Answer] | None:
    ids = [pid, *organisation_pla_ids(registry, pid)]
    try:
        return await authority.answers.answers(pool, distributor_id, ids)
    except PartnerCenterError as exc:
        log.warning(
            "Partner Center gave no answer for a remediation; the registry answers",
            extra={"distributor_id": distributor_id, "error": str(exc)},
        )
        return None
