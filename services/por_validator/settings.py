"""por-validator's settings: who decides, observe mode, Partner Center's answers as the
authority, and automatic release."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from pydantic import Field, model_validator

from services.common.config import Duration
from services.partner_center.settings import PartnerCenterSettings

log = logging.getLogger(__name__)

# Deprecated setting names, and the names that replaced them.
_RENAMED = {"auto_revalidate": "auto_release", "revalidate_window": "release_window"}


class PorValidatorSettings(PartnerCenterSettings):
    # Who decides a transaction's POR: porgate's registry projection, or Partner Center's
    # validation API (the registry's codes then ride along on each line, for drift).
    por_authority: str = Field(default="registry", pattern="^(registry|partner-center)$")
    # Partner Center's answers are reused for this long (kept in PostgreSQL for audit anyway).
    partner_center_cache_ttl_s: float = Field(default=300.0, ge=0)
    # How long Partner Center may stay unreachable before PORGATE_PARTNER_CENTER_UNAVAILABLE
    # decides: `wait` keeps the distributor's requests parked (nothing decided, nothing lost)
    # until it answers; `registry` decides from the registry with authority `registry_fallback`.
    partner_center_max_wait_s: float = Field(default=60.0, ge=0)
    partner_center_unavailable: str = Field(default="wait", pattern="^(wait|registry)$")
    # How long a batch waits for a distributor's answer (one attempt) before it parks that
    # distributor's requests, to be decided later, so that the others' are decided now.
    partner_center_park_after_s: float = Field(default=2.0, gt=0)
    # Answers are kept this long for audit, then deleted by housekeeping.
    partner_center_audit_retention_days: int = Field(default=400, ge=1)

    # Observe mode accepts what enforcement would block, saying so (`wouldBlock`); a
    # distributor's `enforcementMode` on csp.distributor.upserted.v1 wins over this.
    enforcement_mode: str = Field(default="enforce", pattern="^(enforce|observe)$")
    # Automatic release: when a registry fact changes, por-validator re-decides the blocked
    # transactions of this window whose lines depend on it, and releases those that pass now
    # (registry authority only: with Partner Center as the authority, `porgate replay
    # revalidate` asks it). Revalidating is the manual replay; releasing is automatic.
    auto_release: bool = True
    release_window: Duration = Field(default=30 * 86400.0, ge=1.0)  # "30d", "12h" or seconds

    @model_validator(mode="before")
    @classmethod
    def _deprecated_names(cls, values: Any) -> Any:
        """PORGATE_AUTO_REVALIDATE and PORGATE_REVALIDATE_WINDOW, the settings' names before
        release and revalidate meant two things, still work for a release, with a warning;
        the new name wins where both are set."""
        if not isinstance(values, dict):
            return values
        for old, new in _RENAMED.items():
            # The environment source reads only the fields' own names.
            given = values.pop(old, os.environ.get(f"PORGATE_{old.upper()}") or None)
            if given is None:
                continue
            message = f"PORGATE_{old.upper()} is deprecated: set PORGATE_{new.upper()}"
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            log.warning(message)
            values.setdefault(new, given)
        return values
