"""partner-center-sync's settings: how often it syncs resellers and GDAP relationships."""

from __future__ import annotations

from pydantic import Field

from services.common.config import Duration
from services.graph.settings import GraphSettings


class PartnerCenterSyncSettings(GraphSettings):
    # How often the scheduled service lists every distributor's indirect resellers, on a
    # fixed schedule. Seconds ("900") or a number with one unit s, m or h ("15m", "1h");
    # at least 1 second.
    partner_center_sync_every: Duration = Field(default=900.0, ge=1.0)
    # It also lists every distributor's GDAP relationships in Graph this often (same forms
    # as PARTNER_CENTER_SYNC_EVERY); 0 turns it off.
    gdap_sync_every: Duration = Field(default=3600.0, ge=0)
