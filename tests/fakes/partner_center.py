"""The Partner Center port in memory: each distributor's tenant answers from the same
`StandinTenant` data the HTTP stand-in serves, with no HTTP, no tokens and no waiting."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from services.partner_center.credentials import DistributorCredentials
from services.partner_center.errors import NotConfigured
from services.partner_center.models import (
    CallRecord,
    IndirectResellers,
    PartnerRelationship,
    Validation,
    ValidationResult,
)
from services.partner_center.standin import UNKNOWN_ID, StandinTenant


class FakePartnerCenter:
    def __init__(
        self,
        tenants: Mapping[str, StandinTenant],
        credentials: Mapping[str, DistributorCredentials],
    ) -> None:
        self.tenants = tenants
        self.credentials = credentials
        self.asked: list[tuple[str, list[str]]] = []  # (distributor, ids) per call

    def _tenant(self, distributor_id: str, *, as_user: bool = False) -> StandinTenant:
        creds = self.credentials.get(distributor_id)
        if creds is None:
            raise NotConfigured(distributor_id, "no Partner Center credentials")
        if as_user and not creds.acts_as_user:
            raise NotConfigured(distributor_id, "this call needs app+user access")
        return self.tenants[creds.tenant_id]

    @staticmethod
    def _call() -> CallRecord:
        return CallRecord(str(uuid.uuid4()), str(uuid.uuid4()), datetime.now(UTC))

    async def validate_resellers(
        self,
        distributor_id: str,
        partner_ids: Sequence[str],
        *,
        event_id: str | None = None,
        patient: bool = True,
    ) -> list[Validation]:
        tenant = self._tenant(distributor_id)
        ids = list(dict.fromkeys(partner_ids))
        self.asked.append((distributor_id, ids))
        call = self._call()
        out = []
        for pid in ids:
            verdict = tenant.registry.get(pid, UNKNOWN_ID)
            result = ValidationResult(
                partner_id=pid,
                is_valid_partner_id_on_record=verdict.valid,
                error_code=None if verdict.valid else verdict.error_code,
                error_description=None if verdict.valid else verdict.description,
            )
            out.append(Validation(result, call))
        return out

    async def indirect_resellers(
        self, distributor_id: str, *, event_id: str | None = None
    ) -> IndirectResellers:
        tenant = self._tenant(distributor_id, as_user=True)
        items = [PartnerRelationship.model_validate(r) for r in tenant.relationships]
        return IndirectResellers(items, [self._call()])

    async def aclose(self) -> None:
        return None
