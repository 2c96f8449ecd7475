"""Metrics a handler counts run once its transaction commits, never for one that failed."""

import pytest

from services.common.handling import after_commit, deferring_counts


def test_outside_a_pipeline_a_count_runs_at_once():
    ran = []
    after_commit(lambda: ran.append(1))
    assert ran == [1]


def test_inside_a_transaction_counts_wait_for_the_commit_and_a_failure_drops_them():
    ran = []
    with deferring_counts() as counts:
        after_commit(lambda: ran.append("a"))
        after_commit(lambda: ran.append("b"))
        assert ran == []
    for count in counts:
        count()
    assert ran == ["a", "b"]

    ran.clear()
    with pytest.raises(RuntimeError), deferring_counts() as counts:
        after_commit(lambda: ran.append("lost"))
        raise RuntimeError("the transaction failed")
    assert ran == []
    # And the next transaction starts with nothing pending.
    with deferring_counts() as counts:
        pass
    assert counts == []
