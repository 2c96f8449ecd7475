"""Listings in one `--format` vocabulary: a table for people, JSON or CSV for scripts.

Every listing takes `--format`: `text|json|csv` where its output is a table (`Tabular`),
`text|json` where it is a document (`Document`). Machine output goes to stdout alone;
messages and progress go to stderr, so `porgate ... --format json | jq` always parses.
"""

# No `from __future__ import annotations`: typer reads the option aliases' annotations.

import csv
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.rendering.spreadsheet import spreadsheet_safe

# Piped output is read by scripts and pagers: never wrap an id or a time.
PIPED_WIDTH = 1000


class Tabular(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


class Document(StrEnum):
    text = "text"
    json = "json"


class Message(StrEnum):
    """A message to forward (remediation): as text, as JSON, or as an HTML fragment."""

    text = "text"
    json = "json"
    html = "html"


TabularFormat = Annotated[
    Tabular, typer.Option("--format", help="text (a table), json (an array) or csv.")
]
DocumentFormat = Annotated[Document, typer.Option("--format", help="text or json.")]
# The flag listings had before --format; still accepted, not shown.
JsonFlag = Annotated[
    bool, typer.Option("--json", hidden=True, help="Deprecated: use --format json.")
]


def with_json_flag(fmt: Tabular, as_json: bool) -> Tabular:
    if as_json:
        typer.echo("porgate: --json is deprecated; use --format json", err=True)
        return Tabular.json
    return fmt


def stdout_console() -> Console:
    """The console for stdout: the terminal's width, or wide enough not to wrap when piped."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        return Console(width=PIPED_WIDTH)
    return console


def say(message: str) -> None:
    """One line on stderr, verbatim and unwrapped: scripts grep these."""
    typer.echo(message, err=True)


@dataclass(frozen=True)
class Column:
    header: str  # the table's heading
    key: str  # the field's name in JSON and the CSV header
    field: str | None = None  # the database record's field, where it is named otherwise
    text: bool = True  # in the table too, not only in JSON and CSV

    def of(self, record: Mapping[str, Any]) -> Any:
        return record[self.field or self.key]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list | tuple):
        return ", ".join(map(_text, value))
    return str(value)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return spreadsheet_safe(",".join(map(str, value)))
    return spreadsheet_safe(value) if isinstance(value, str) else str(value)


def write_csv(
    rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str], out: IO[str] | None = None
) -> None:
    writer = csv.DictWriter(out or sys.stdout, fieldnames=list(fieldnames), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv(row.get(k)) for k in fieldnames})


def write_json(document: Any, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    json.dump(document, out, indent=2, ensure_ascii=False, default=_json)
    out.write("\n")


def emit(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: Tabular,
    *,
    title: str,
    empty: str,
) -> None:
    """Rows (keyed by the columns' keys) as a table titled `title` (`empty` when there are
    none), a JSON array or CSV on stdout."""
    if fmt is Tabular.json:
        write_json([{c.key: _json(row.get(c.key)) for c in columns} for row in rows])
    elif fmt is Tabular.csv:
        write_csv(rows, [c.key for c in columns])
    elif not rows:
        stdout_console().print(empty, markup=False, highlight=False)
    else:
        shown = [c for c in columns if c.text]
        table = Table(title=title)
        for column in shown:
            table.add_column(column.header, overflow="fold")
        for row in rows:
            table.add_row(*(Text(_text(row.get(c.key))) for c in shown))
        stdout_console().print(table)
