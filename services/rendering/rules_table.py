"""The decision table and the codes as Markdown, from `STEPS`, the explanation's conditions
and the error catalogue: docs/rules.md shows this text (`python docs/render.py` writes it,
and a unit test fails when the two differ), so the documented table is the one that runs."""

from __future__ import annotations

from contracts.errors import CANONICAL_ORDER, describe
from services.domain.por_rules import STEPS
from services.rendering.explanation import condition_text

CODES_INTRO = (
    "The codes, in their canonical order, with the message a decision carries (English;"
    " the Japanese text is Microsoft's, below):"
)


def decision_table() -> str:
    lines = [
        "| step | check | passes when | else the code | stops the evaluation |",
        "|---|---|---|---|---|",
    ]
    for step in STEPS:
        stops = "yes" if step.stops else ""
        lines.append(
            f"| {step.number} | `{step.check}` | {condition_text(step.check, 'en')}"
            f" | {int(step.code)} | {stops} |"
        )
    lines += [
        "",
        CODES_INTRO,
        "",
        "| code | message |",
        "|---|---|",
    ]
    lines += [f"| {int(code)} | {describe(code, 'en').message} |" for code in CANONICAL_ORDER]
    return "\n".join(lines) + "\n"
