from __future__ import annotations

import pytest

from tests.reliability.harness import FIGURES, NOTES, Processes

FIGURE_ORDER = (
    "events pushed",
    "faults injected",
    "bad inputs tried",
    "lost",
    "decided twice",
    "duplicate records (same id)",
    "duplicate webhook receipts (same notification id)",
)


@pytest.fixture
def procs(migrated, tmp_path):
    """Services started as processes by this test; whatever is still running at the end is killed."""
    processes = Processes(migrated, tmp_path)
    yield processes
    # Shown by pytest when the test failed: what each process said last.
    print(processes.report())
    processes.cleanup()


def figures_text() -> str:
    keys = [k for k in FIGURE_ORDER if k in FIGURES] + sorted(
        k for k in FIGURES if k not in FIGURE_ORDER
    )
    lines = [f"  {k:<52} {FIGURES[k]}" for k in keys]
    lines += [f"  - {n}" for n in NOTES]
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES and not NOTES:
        return
    terminalreporter.write_sep("=", "porgate reliability figures")
    terminalreporter.write_line(figures_text())
