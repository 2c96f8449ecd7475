"""Pure: the request body of validateresellers, and the results in Partner Center's shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import RANK, describe
from services.domain.authority import Answer
from services.domain.por_rules import Registry, evaluate_por, normalize_partner_id

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


def _result(pid: str, codes: list[int], language: str, description: str | None = None):
    primary = codes[0] if codes else None
    if primary is not None and primary in RANK:
        description = describe(primary, language).message
    return {
        "partnerId": pid,
        "isValidPartnerIdOnRecord": not codes,
        "errorCode": primary,
        "errorDescription": description if primary is not None else None,
        # Beyond Partner Center's shape: every code, as the validator reports them.
        "errorCodes": codes,
    }


def validation_results(
    partner_ids: list[str],
    distributor_id: str,
    registry: Registry,
    language: str = "en",
    answers: Mapping[str, Answer] | None = None,
) -> dict[str, Any]:
    """The results in Partner Center's shape: from Partner Center's `answers` where one is
    given for the id (the registry decides ids that cannot be PLA ids, or without answers)."""
    results = []
    for pid in partner_ids:
        normalized = normalize_partner_id(pid)
        answer = None if answers is None or normalized is None else answers.get(normalized)
        if answer is not None:
            results.append(_result(pid, list(answer.codes), language, answer.error_description))
        else:
            codes = [int(c) for c in evaluate_por(pid, distributor_id, registry)]
            results.append(_result(pid, codes, language))
    return {"validationResults": results}
