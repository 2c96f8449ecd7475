"""Partner Center's answers, in the JSON shapes Microsoft documents, and the call each came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    # Unknown fields are ignored: Microsoft adds fields to its answers over time.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class ValidationResult(_Wire):
    """One item of `validationResults`: one answer, with at most one code, per partner id."""

    partner_id: str = Field(alias="partnerId")
    is_valid_partner_id_on_record: bool = Field(alias="isValidPartnerIdOnRecord")
    error_code: int | None = Field(default=None, alias="errorCode")
    error_description: str | None = Field(default=None, alias="errorDescription")


class ValidationResponse(_Wire):
    validation_results: list[ValidationResult] = Field(alias="validationResults")


class AgreementSignatureStatus(_Wire):
    """`GET /v1/compliance/{ProgramName}/agreementstatus`: whether the reseller has signed the
    Microsoft Partner Agreement, as the asking distributor's tenant (its CSP region) sees it."""

    is_agreement_signed: bool = Field(alias="isAgreementSigned")


class PartnerRelationship(_Wire):
    """An indirect reseller of the distributor: `id` is the reseller's tenant id."""

    id: str
    name: str | None = None
    relationship_type: str | None = Field(default=None, alias="relationshipType")
    state: str | None = None
    mpn_id: str | None = Field(default=None, alias="mpnId")
    location: str | None = None
    attributes: dict[str, Any] | None = None


class RelationshipPage(_Wire):
    items: list[PartnerRelationship] = Field(default_factory=list)
    links: dict[str, Any] | None = None


class ErrorBody(_Wire):
    """Partner Center's error body; every field optional, as gateways answer in other shapes."""

    code: str | int | None = None
    description: str | None = None


@dataclass(frozen=True)
class CallRecord:
    """Which call an answer came from: kept for audit, and what Microsoft support asks for."""

    request_id: str
    correlation_id: str
    answered_at: datetime


@dataclass(frozen=True)
class Validation:
    result: ValidationResult
    call: CallRecord


@dataclass(frozen=True)
class AgreementStatus:
    partner_id: str
    signed: bool
    call: CallRecord


@dataclass(frozen=True)
class IndirectResellers:
    """Every page of the distributor's indirect resellers, and the call behind each page."""

    items: list[PartnerRelationship]
    calls: list[CallRecord]
