"""What the terminator does next with one termination, from what Graph just said. Pure.

A relationship counts as revoked only on Graph's word: a terminate request that reads
`succeeded`, or the relationship reading `terminated`/`expired`, or absent from the
distributor's own list (the gateway's read returns None only then, and only with that
distributor's own credentials: services/graph/auth.py). Absence counts only after a delete
or while no terminate is outstanding: after a terminate request only `terminated` or the
request's `succeeded` will do, since a terminated relationship stays in the list. A 404 or
409 to an action is never enough by itself: the relationship is read again and that read
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.graph.models import (
    CREATED,
    EXPIRED,
    REQUEST_FAILED,
    REQUEST_SUCCEEDED,
    TERMINATED,
    TERMINATING,
    Relationship,
    Request,
)

Action = Literal["terminate", "delete"]
GRANTING = frozenset({"active", "expiring"})


@dataclass(frozen=True)
class Revoked:
    confirmed_by: str  # GdapPrivilegesRevoked.confirmedBy


@dataclass(frozen=True)
class Terminate:
    pass


@dataclass(frozen=True)
class Delete:
    etag: str


@dataclass(frozen=True)
class Requested:
    """A request was accepted: track it (request_id None: by reading the relationship)."""

    request_id: str | None
    action: Action


@dataclass(frozen=True)
class Poll:
    """Under way, not settled: read back later."""

    note: str


@dataclass(frozen=True)
class Retry:
    """This attempt failed; it counts against the row's budget."""

    reason: str


Step = Revoked | Terminate | Delete | Requested | Poll | Retry


def decide(
    live: Relationship | None, *, acting_on: Action | None = None, asked_terminate: bool = False
) -> Step:
    """From a read of the relationship. `acting_on`: the action already asked for (or under
    way), so only its confirmation or more waiting can follow, never a second action.
    `asked_terminate`: an earlier attempt's terminate request may still be outstanding."""
    if live is None:
        if asked_terminate and acting_on is None:
            return Retry(
                "the relationship is absent from the list after porgate's terminate request:"
                " only `terminated` or the request's `succeeded` confirms it (once a person has"
                " checked, `porgate gdap retry` accepts the absence)"
            )
        if acting_on == "terminate":
            return Poll(
                "the relationship is absent from the list after a terminate: waiting for Graph"
                " to read it terminated or the request succeeded"
            )
        return Revoked("deleted" if acting_on == "delete" else "absent")
    state = live.state
    if state == TERMINATED:
        return Revoked("terminated")
    if state == EXPIRED:
        return Revoked("expired")
    if state in TERMINATING:
        return Poll(f"the relationship is {live.status}")
    if state in GRANTING:
        if acting_on is None:
            return Terminate()
        return Retry(f"the relationship still reads {live.status} after the {acting_on}")
    if state == CREATED:
        if acting_on == "delete":
            return Poll("the deleted relationship still reads created")
        if acting_on is not None:
            return Retry(f"the relationship reads {live.status} after the {acting_on}")
        if not live.etag:
            return Retry("the relationship is created but Graph gave no ETag to delete it with")
        return Delete(live.etag)
    return Retry(
        f"the relationship is {live.status}: only an active one can be terminated and only a"
        " created one deleted; it is read again later"
    )


def decide_request(request: Request | None) -> Step | None:
    """From a read of the terminate request; None: the request is unknown, read the relationship."""
    if request is None:
        return None
    if request.state == REQUEST_SUCCEEDED:
        return Revoked("request_succeeded")
    if request.state == REQUEST_FAILED:
        return Retry(f"Graph reports the terminate request {request.request_id} failed")
    return Poll(f"the terminate request {request.request_id} is {request.status}")


def after_refusal(refusal: str, reread: Step, action: Action | None = None) -> Step:
    """An action answered 404/409: the read that followed decides; an action it would take
    again means the refusal was not Graph saying "already done", so the attempt failed.
    Waiting on `action` means tracking it: the row is not yet a tracked one."""
    if isinstance(reread, Poll) and action is not None:
        return Requested(None, action)
    if isinstance(reread, Terminate | Delete):
        return Retry(f"{refusal}; the distributor's list still shows the relationship")
    if isinstance(reread, Retry):
        return Retry(f"{refusal}; {reread.reason}")
    return reread


def poll_delay_s(polls: int, initial_s: float, max_s: float) -> float:
    """Backoff between reads of a request: exponential in the reads made, capped."""
    return min(max_s, initial_s * 2 ** max(0, polls))
