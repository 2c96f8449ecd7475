"""docs/rules.md shows the decision table that runs: rendered from por_rules.STEPS."""

import importlib.util
from pathlib import Path

import pytest

from services.domain.por_rules import STEPS
from services.rendering import rules_table
from services.rendering.rules_table import decision_table

DOCS = Path(__file__).resolve().parents[2] / "docs"
_spec = importlib.util.spec_from_file_location("docs_render", DOCS / "render.py")
assert _spec and _spec.loader
render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)


def test_docs_rules_md_shows_the_decision_table_of_por_rules():
    shown = render.generated_block((DOCS / "rules.md").read_text())
    assert shown == decision_table(), "docs/rules.md is stale: run `python docs/render.py`"


def test_the_table_has_a_row_per_step_with_its_check_and_code():
    rows = [line for line in decision_table().splitlines() if line.startswith("| ")][1:]
    steps = rows[: len(STEPS)]
    for step, row in zip(STEPS, steps, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == str(step.number) and cells[1] == f"`{step.check}`"
        assert cells[3] == str(int(step.code)) and (cells[4] == "yes") is step.stops


def test_a_changed_step_makes_the_document_stale(monkeypatch):
    changed = (STEPS[0].__class__(1, STEPS[0].check, STEPS[1].code, stops=False), *STEPS[1:])
    monkeypatch.setattr(rules_table, "STEPS", changed)
    shown = render.generated_block((DOCS / "rules.md").read_text())
    assert shown != rules_table.decision_table()


def test_rendering_replaces_only_the_generated_block():
    before = f"intro\n{render.BEGIN}old\n{render.END}outro\n"
    assert render.render(before, "new\n") == f"intro\n{render.BEGIN}new\n{render.END}outro\n"
    with pytest.raises(ValueError):
        render.render("no markers\n", "new\n")
