"""The one `Settings` every process reads: the runtime's (services/common/config.py) and
each service's own (its `settings.py`), composed. An entry point's: a service's code takes
its own part, so no service depends on another's settings."""

from __future__ import annotations

from functools import lru_cache

from services.console.settings import ConsoleSettings
from services.gdap_revoker.settings import GdapRevokerSettings
from services.notifier.settings import NotifierSettings
from services.partner_center_sync.settings import PartnerCenterSyncSettings
from services.por_validator.settings import PorValidatorSettings


class Settings(
    PorValidatorSettings,
    NotifierSettings,
    GdapRevokerSettings,
    PartnerCenterSyncSettings,
    ConsoleSettings,
):
    """Every `PORGATE_*` variable (docs/configuration.md)."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
