"""Re-check now, from the console: the API's `POST /v1/partners/{id}/recheck` behind a
button on the transaction and reseller pages (a POST with the session's CSRF token, limited
per key as the API is). The page it returns says what changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg
from aiokafka.errors import KafkaError

from services.console import views
from services.console.auth import Principal
from services.console.context import Console
from services.partner_center.errors import PartnerCenterError
from services.por_validator import store
from services.por_validator.recheck import Recheck

log = logging.getLogger(__name__)
MAX_PARTNER_ID = 256  # as the API's path parameter


@dataclass(frozen=True, slots=True)
class RecheckOutcome:
    """What the page shows: the re-check's result, or why there is none."""

    partner_id: str
    distributor_id: str
    result: Recheck | None = None
    codes: tuple[views.CodeText, ...] = ()  # the result's, with their text
    problem: str | None = None
    status: int = 200


async def run_recheck(
    console: Console, principal: Principal, partner_id: str, distributor_id: str, language: str
) -> RecheckOutcome:
    """A re-check for this reader's key, or the reason it did not run."""
    if (wait := console.remedies.retry_after(principal.key_id)) is not None:
        return RecheckOutcome(
            partner_id,
            distributor_id,
            problem=f"Re-checked a moment ago: at most "
            f"{console.settings.recheck_rate_per_key:g} re-checks a second per key; "
            f"try again in {wait} s.",
            status=429,
        )
    pool = await console.pool(store.SCHEMA)
    try:
        result = await console.remedies.recheck(pool, partner_id, distributor_id)
    except PartnerCenterError as exc:
        return RecheckOutcome(
            partner_id,
            distributor_id,
            problem=f"Partner Center gave no answer: {exc}"[:300],
            status=503,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as exc:
        log.error("console re-check failed", extra={"error": repr(exc)})
        return RecheckOutcome(
            partner_id,
            distributor_id,
            problem="The registry or the broker is unavailable: nothing changed; try again later.",
            status=503,
        )
    codes = tuple(views.code_texts(result.error_codes, language))
    return RecheckOutcome(partner_id, distributor_id, result=result, codes=codes)


def form_text(value: object) -> str | None:
    """A form field as text, if it is one of a sane length."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PARTNER_ID:
        return None
    return value.strip()
