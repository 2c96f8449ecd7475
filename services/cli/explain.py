"""`porgate explain`: why a PLA ID passes or fails for a distributor, step by step."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from contracts.errors import language_of
from services.cli.output import Document, DocumentFormat, stdout_console, write_json
from services.por_validator.explanation import explanation_now
from services.rendering.explanation import render
from services.settings import get_settings

_OUTCOME_STYLE = {"pass": "green", "fail": "bold red", "skipped": "dim"}
# The table's words in each language the catalogue has; JSON keeps the wire's values.
_WORDS = {
    "en": {
        "headings": ("step", "condition", "outcome", "facts (value, as of, event)"),
        "valid": "valid",
        "invalid": "not valid, error codes: {codes}",
        "pass": "pass",
        "fail": "fail",
        "skipped": "skipped",
    },
    "ja": {
        "headings": ("手順", "条件", "結果", "事実 (値、時点、イベント)"),
        "valid": "有効",
        "invalid": "無効、エラー コード: {codes}",
        "pass": "合格",
        "fail": "不合格",
        "skipped": "未評価",
    },
}


def explain(
    partner_id: Annotated[str, typer.Argument(metavar="PLA_ID", help="The PLA ID to explain.")],
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    lang: Annotated[str, typer.Option("--lang", help="en or ja.")] = "en",
    fmt: DocumentFormat = Document.text,
) -> None:
    """The decision table's walk for PLA_ID and the distributor over the registry now: each
    step, the registry facts it read (value, as-of time, setting event), and the remediation."""
    walk = asyncio.run(explanation_now(get_settings(), partner_id, distributor))
    rendered = render(walk, language_of(lang))
    if fmt is Document.json:
        write_json(rendered)
        return
    print_explanation(stdout_console(), rendered)


def _fact_line(fact: dict[str, Any]) -> str:
    value = json.dumps(fact["value"], ensure_ascii=False)
    where = ", ".join(x for x in (fact["asOf"], fact["eventId"]) if x)
    return f"{fact['fact']} = {value}" + (f"  ({where})" if where else "")


def print_explanation(console: Console, rendered: dict[str, Any]) -> None:
    """The readable form of `render()`'s output: a table of the steps, then what to do."""
    words = _WORDS[rendered["language"]]
    codes = ", ".join(map(str, rendered["errorCodes"]))
    verdict = words["valid"] if rendered["isValidPartnerIdOnRecord"] else words["invalid"]
    console.print(
        f"PLA ID {rendered['partnerId']!r} / {rendered['distributorId']}:"
        f" {verdict.format(codes=codes)}",
        markup=False,
        highlight=False,
    )
    table = Table(show_lines=True)
    for heading in words["headings"]:
        table.add_column(heading, overflow="fold")
    for step in rendered["steps"]:
        outcome = words[step["outcome"]] + (f" {step['errorCode']}" if step["errorCode"] else "")
        table.add_row(
            str(step["step"]),
            Text(step["condition"]),
            Text(outcome, style=_OUTCOME_STYLE[step["outcome"]]),
            Text("\n".join(_fact_line(f) for f in step["facts"])),
        )
    console.print(table)
    for step in rendered["steps"]:
        if step["outcome"] != "fail":
            continue
        console.print(f"{step['errorCode']}: {step['message']}", markup=False, highlight=False)
        for i, remedy in enumerate(step["remediation"], 1):
            console.print(f"  {i}. {remedy}", markup=False, highlight=False)
