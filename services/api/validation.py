"""Pure: the request body of validateresellers, and the results in Partner Center's shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import describe
from services.domain.por_rules import Registry, evaluate_por

MAX_IDS = 100


class ValidateResellersRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    partner_ids: list[str] = Field(alias="partnerIds", min_length=1, max_length=MAX_IDS)


class BadRequest(ValueError):
    pass


def parse_request(body: bytes) -> ValidateResellersRequest:
    try:
        return ValidateResellersRequest.model_validate_json(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        raise BadRequest(f"{loc}: {err['msg']}") from None


def validation_results(
    partner_ids: list[str], distributor_id: str, registry: Registry, language: str = "en"
) -> dict[str, Any]:
    results = []
    for pid in partner_ids:
        codes = [int(c) for c in evaluate_por(pid, distributor_id, registry)]
        primary = codes[0] if codes else None
        results.append(
            {
                "partnerId": pid,
                "isValidPartnerIdOnRecord": not codes,
                "errorCode": primary,
                "errorDescription": describe(primary, language).message if primary else None,
                # Beyond Partner Center's shape: every code, as the validator reports them.
                "errorCodes": codes,
            }
        )
    return {"validationResults": results}
