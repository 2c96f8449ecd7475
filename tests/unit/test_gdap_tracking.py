"""The terminator's decisions from what Graph said: only Graph's confirmation revokes."""

from __future__ import annotations

import pytest

from services.gdap_revoker import tracking as tr
from services.graph.models import Relationship, Request


def live(status: str, etag: str | None = 'W/"1"') -> Relationship:
    return Relationship("rel-1", status, "cust-1", etag=etag)


@pytest.mark.parametrize(
    ("read", "acting_on", "expected"),
    [
        (None, None, tr.Revoked("absent")),
        # A terminated relationship stays listed: absence after a terminate confirms nothing.
        (
            None,
            "terminate",
            tr.Poll(
                "the relationship is absent from the list after a terminate: waiting for Graph"
                " to read it terminated or the request succeeded"
            ),
        ),
        (None, "delete", tr.Revoked("deleted")),
        (live("terminated"), None, tr.Revoked("terminated")),
        (live("expired"), "terminate", tr.Revoked("expired")),
        (live("active"), None, tr.Terminate()),
        (live("Active"), None, tr.Terminate()),
        (live("expiring"), None, tr.Terminate()),
        (live("created"), None, tr.Delete('W/"1"')),
        (live("terminationRequested"), None, tr.Poll("the relationship is terminationRequested")),
        (live("terminating"), "terminate", tr.Poll("the relationship is terminating")),
        (live("created"), "delete", tr.Poll("the deleted relationship still reads created")),
    ],
)
def test_decide_from_a_read(read, acting_on, expected):
    assert tr.decide(read, acting_on=acting_on) == expected


@pytest.mark.parametrize(
    ("read", "acting_on"),
    [
        # Asked already: reading active again is no confirmation, and no second request.
        (live("active"), "terminate"),
        (live("created"), "terminate"),
        (live("created", etag=None), None),
        (live("approvalPending"), None),
        (live("activating"), None),
        (live("unknownFutureValue"), None),
    ],
)
def test_a_read_that_neither_confirms_nor_allows_an_action_is_a_failed_attempt(read, acting_on):
    assert isinstance(tr.decide(read, acting_on=acting_on), tr.Retry)


@pytest.mark.parametrize(
    ("graph_request", "expected"),
    [
        (Request("req-1", "terminate", "succeeded"), tr.Revoked("request_succeeded")),
        (Request("req-1", "terminate", "Succeeded"), tr.Revoked("request_succeeded")),
        (
            Request("req-1", "terminate", "created"),
            tr.Poll("the terminate request req-1 is created"),
        ),
        (
            Request("req-1", "terminate", "pending"),
            tr.Poll("the terminate request req-1 is pending"),
        ),
        (None, None),
    ],
)
def test_decide_from_a_request(graph_request, expected):
    assert tr.decide_request(graph_request) == expected


def test_a_failed_request_is_a_failed_attempt_not_a_revocation():
    step = tr.decide_request(Request("req-1", "terminate", "failed"))
    assert isinstance(step, tr.Retry) and "req-1 failed" in step.reason


@pytest.mark.parametrize(
    ("reread", "expected_type"),
    [
        # 404 while the distributor's own list still shows it active: not revoked.
        (tr.Terminate(), tr.Retry),
        (tr.Delete('W/"1"'), tr.Retry),
        (tr.Retry("it is approvalPending"), tr.Retry),
        (tr.Revoked("absent"), tr.Revoked),
        (tr.Poll("the relationship is terminating"), tr.Poll),
    ],
)
def test_a_404_or_409_counts_only_when_the_read_that_follows_confirms_it(reread, expected_type):
    step = tr.after_refusal("terminate: HTTP 404", reread)
    assert type(step) is expected_type
    if isinstance(step, tr.Retry):
        assert step.reason.startswith("terminate: HTTP 404")


def test_absence_after_an_earlier_attempts_terminate_request_is_no_confirmation():
    assert isinstance(tr.decide(None, asked_terminate=True), tr.Retry)
    assert tr.decide(None, acting_on="delete", asked_terminate=True) == tr.Revoked("deleted")
    # Still acted on as usual: a failed request does not stop a new one.
    assert tr.decide(live("active"), asked_terminate=True) == tr.Terminate()


@pytest.mark.parametrize("action", ["terminate", "delete"])
def test_a_refused_action_still_under_way_is_tracked_not_polled_as_pending(action):
    step = tr.after_refusal(f"{action}: HTTP 409", tr.Poll("under way"), action)
    assert step == tr.Requested(None, action)


def test_poll_delay_doubles_and_is_capped():
    assert [tr.poll_delay_s(n, 2.0, 60.0) for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]
