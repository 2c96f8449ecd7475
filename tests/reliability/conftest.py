from __future__ import annotations

import pytest

from tests.reliability.harness import Processes


@pytest.fixture
def procs(migrated, tmp_path):
    """Services started as processes by this test; whatever is still running at the end is killed."""
    processes = Processes(migrated, tmp_path)
    yield processes
    # Shown by pytest when the test failed: what each process said last.
    print(processes.report())
    processes.cleanup()
