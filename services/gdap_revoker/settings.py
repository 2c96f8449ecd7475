"""gdap-revoker's settings: which gateway terminates, and how a termination is read back."""

from __future__ import annotations

from pydantic import Field

from services.graph.settings import GraphSettings


class GdapRevokerSettings(GraphSettings):
    # "ledger" records terminations; "graph" calls Microsoft Graph.
    gdap_gateway: str = Field(default="ledger", pattern="^(ledger|graph)$")
    # A terminate request is read back until Graph says succeeded or failed: first after
    # this long, then twice as long each time up to the maximum, at most this many reads
    # before the attempt counts as failed (about 25 minutes with the defaults).
    graph_poll_initial_s: float = Field(default=2.0, gt=0)
    graph_poll_max_s: float = Field(default=60.0, gt=0)
    graph_max_polls: int = Field(default=30, ge=1)
