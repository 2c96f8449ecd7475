"""The port a service depends on: Partner Center's calls, whatever answers them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.partner_center.models import AgreementStatus, IndirectResellers, Validation


class PartnerCenter(Protocol):
    async def validate_resellers(
        self,
        distributor_id: str,
        partner_ids: Sequence[str],
        *,
        event_id: str | None = None,
        patient: bool = True,
    ) -> list[Validation]:
        """One validation per distinct id, in the order asked, as the distributor's tenant sees it.

        Raises a `services.partner_center.errors.PartnerCenterError` when there is no answer.
        `event_id` is logged with each call's correlation id. Not `patient`: one attempt, and
        `Throttled` rather than waiting out a Retry-After.
        """

    async def indirect_resellers(
        self, distributor_id: str, *, event_id: str | None = None
    ) -> IndirectResellers:
        """Every page of the distributor's `IsIndirectCloudSolutionProviderOf` relationships."""

    async def agreement_status(
        self, distributor_id: str, partner_id: str, *, event_id: str | None = None
    ) -> AgreementStatus:
        """Whether the reseller with this PLA id has signed the Microsoft Partner Agreement,
        as the distributor's tenant sees it (`compliance/csp/agreementstatus`, app+user)."""

    async def aclose(self) -> None: ...
