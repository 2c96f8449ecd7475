"""The API's response bodies as pydantic models: the OpenAPI document's schemas come from here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "porgate"


class ValidationResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partnerId: str
    isValidPartnerIdOnRecord: bool
    errorCode: int | None = Field(description="The first error code, as Partner Center gives one")
    errorDescription: str | None = Field(
        description="In the language of X-Locale (else Accept-Language); null when valid"
    )
    errorCodes: list[int] = Field(
        description="Beyond Partner Center's shape: every code, in the validator's order"
    )


class ValidateResellersResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    validationResults: list[ValidationResult] = Field(
        description="One result per requested id, in the order asked"
    )


class ErrorBody(BaseModel):
    """Partner Center's error body: `{"code", "description", "data", "source"}`."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="Stable and machine-readable, e.g. unauthorized, rate_limited")
    description: str = Field(description="For people; English")
    data: list = Field(default_factory=list)
    source: Literal["porgate"] = SOURCE


class Health(BaseModel):
    status: Literal["ok", "degraded", "unhealthy"]
    checks: dict[str, str] = Field(description="Each check: ok, or what failed")
    degraded: dict[str, str] | None = None


class Live(BaseModel):
    status: Literal["ok"]


class EventReceived(BaseModel):
    """What POST /v1/partner-center/events answers Partner Center."""

    eventName: str
    outcome: Literal["queued", "ignored", "duplicate"] = Field(
        description="queued: porgate reads what it names; ignored: counted and logged;"
        " duplicate: a redelivery of an event recorded before, no effect"
    )
