"""Partner Center's ResellerEligibility CSV, read and triaged against porgate's verdict now.

Pure: bytes in, rows and bad rows out; the triage takes the registry slice and the
distributor's POR history already loaded.

The file, as partner-center.md fixes it:
- a header row; columns in any order; names matched case-insensitively and with
  surrounding whitespace ignored; columns other than the ones below ignored;
- required: `PartnerId`, `IsCompliant`, `ErrorCodes`; optional: `ResellerName`,
  `ResellerTenantId`. The report's other columns (ResellerStatus, RegionMatch, ...) are the
  reasons behind ErrorCodes and are not read, so an odd value there never costs a row;
- `IsCompliant` is True/False or Yes/No, in any case;
- `ErrorCodes` is comma-separated (the CSV quotes it when it holds more than one);
- a UTF-8 byte-order mark is tolerated; blank lines, and lines of empty fields only,
  are skipped without a word.

A bad row is not triaged and is reported with its line in the file, in every output (the
header is line 1; a row whose quoted field spans lines is reported at its first line): a field count unlike the
header's, a PartnerId that is not 5 to 10 ASCII digits, an IsCompliant that is no boolean,
an error code that is not a number, IsCompliant True with codes or False without any, and a
PartnerId already seen on an earlier line. Whatever makes the whole file unreadable (not
UTF-8, empty, no required column, a required column named twice, broken CSV quoting, more
than MAX_ROWS rows) raises
`EligibilityImportError`, and nothing else is ever raised for any input.

Agreement (partner-center.md's rule, for a list of codes): Partner Center and porgate
**agree** when both say valid, or both say invalid and *every* code Partner Center lists is
among porgate's codes (order and repeats ignored). With one code this is exactly the
documented rule; a code Partner Center sees and the registry does not is a problem porgate
misses, while a code only porgate gives is one the single-code API could have answered too.
Anything else is **drift**.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.domain.por_rules import Registry, evaluate_por, normalize_partner_id

REQUIRED = ("PartnerId", "IsCompliant", "ErrorCodes")
OPTIONAL = ("ResellerName", "ResellerTenantId")
_BOOLEANS = {"true": True, "yes": True, "false": False, "no": False}
# A report lists one distributor's resellers: far fewer than this. Past it the file is
# refused whole, so the import's memory (a few KB a row) stays bounded.
MAX_ROWS = 100_000
# [0-9], not \d: \d also matches other scripts' digits; 9 digits keep a code an int32.
_CODE = re.compile(r"[0-9]{1,9}")


class EligibilityImportError(Exception):
    """The file as a whole cannot be imported; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class ImportedRow:
    line: int
    partner_id: str
    reseller_name: str
    reseller_tenant_id: str
    is_compliant: bool
    error_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    partner_id: str = ""  # the PartnerId cell as written (trimmed, cut to 64 characters)


@dataclass(frozen=True, slots=True)
class ParsedReport:
    rows: list[ImportedRow]
    bad_rows: list[BadRow]

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.bad_rows)


def _text_of(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise EligibilityImportError("the file is UTF-16, not UTF-8: save it as CSV UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise EligibilityImportError(
            f"the file is not UTF-8 text (line {line}, byte {e.start})"
        ) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next_line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise EligibilityImportError(f"line {next_line}: not readable as CSV ({e})") from None
        start, next_line = next_line, reader.line_num + 1
        if any(f.strip() for f in fields):
            yield start, fields


def _column_positions(header: list[str]) -> dict[str, int]:
    wanted = {name.lower(): name for name in (*REQUIRED, *OPTIONAL)}
    positions: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = wanted.get(raw.strip().lower())
        if name is None:
            continue
        if name in positions:
            raise EligibilityImportError(f"the header names column {name} twice")
        positions[name] = i
    missing = [name for name in REQUIRED if name not in positions]
    if missing:
        shown = ", ".join(h.strip() for h in header)[:200]
        raise EligibilityImportError(
            f"the header lacks required column(s) {', '.join(missing)}"
            f" (is this a comma-separated ResellerEligibility report? header: {shown!r})"
        )
    return positions


def _error_codes(raw: str) -> tuple[int, ...] | str:
    """The codes in file order without repeats, or the reason they are unreadable."""
    codes: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not _CODE.fullmatch(part):
            return f"ErrorCodes holds {part!r}, not a numeric code"
        if int(part) not in codes:
            codes.append(int(part))
    return tuple(codes)


def _row(line: int, fields: list[str], at: Mapping[str, int]) -> ImportedRow | str:
    """The row, or the reason it is bad."""

    def value(name: str) -> str:
        return fields[at[name]].strip() if name in at else ""

    partner_id = normalize_partner_id(value("PartnerId"))
    if partner_id is None:
        return f"PartnerId {value('PartnerId')!r} is not a PLA id (5 to 10 digits)"
    is_compliant = _BOOLEANS.get(value("IsCompliant").lower())
    if is_compliant is None:
        return f"IsCompliant {value('IsCompliant')!r} is not True/False or Yes/No"
    codes = _error_codes(value("ErrorCodes"))
    if isinstance(codes, str):
        return codes
    if is_compliant and codes:
        return f"IsCompliant is True but ErrorCodes lists {_codes_text(codes)}"
    if not is_compliant and not codes:
        return "IsCompliant is False but ErrorCodes is empty"
    return ImportedRow(
        line, partner_id, value("ResellerName"), value("ResellerTenantId"), is_compliant, codes
    )


def parse_eligibility_csv(data: bytes) -> ParsedReport:
    """The rows of a ResellerEligibility CSV and its bad rows; raises only
    EligibilityImportError, when the file as a whole is unreadable."""
    records = _records(_text_of(data))
    first = next(records, None)
    if first is None:
        raise EligibilityImportError("the file is empty: no header row")
    positions = _column_positions(first[1])
    rows: list[ImportedRow] = []
    bad_rows: list[BadRow] = []
    first_line_of: dict[str, int] = {}
    at = positions["PartnerId"]
    for count, (line, fields) in enumerate(records, 1):
        if count > MAX_ROWS:
            raise EligibilityImportError(f"more than {MAX_ROWS} rows (line {line}): split the file")
        written = fields[at].strip()[:64] if at < len(fields) else ""
        if len(fields) != len(first[1]):
            bad_rows.append(
                BadRow(
                    line, f"{len(fields)} field(s) where the header has {len(first[1])}", written
                )
            )
            continue
        row = _row(line, fields, positions)
        if isinstance(row, str):
            bad_rows.append(BadRow(line, row, written))
        elif row.partner_id in first_line_of:
            seen = first_line_of[row.partner_id]
            bad_rows.append(
                BadRow(line, f"PartnerId {row.partner_id} already on line {seen}", written)
            )
        else:
            first_line_of[row.partner_id] = line
            rows.append(row)
    return ParsedReport(rows, bad_rows)


def agrees(partner_center_codes: Iterable[int], porgate_codes: Iterable[int]) -> bool:
    """The module docstring's rule: both valid, or every Partner Center code among porgate's."""
    pc, ours = set(partner_center_codes), set(porgate_codes)
    if not pc or not ours:
        return not pc and not ours
    return pc <= ours


@dataclass(frozen=True, slots=True)
class PorHistory:
    """The distributor's transactions with one reseller as POR, within the window."""

    transactions: int = 0
    recent_order_ids: tuple[str, ...] = ()
    recent_subscription_ids: tuple[str, ...] = ()
    last_decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TriageRow:
    imported: ImportedRow
    porgate_codes: tuple[int, ...]
    agree: bool
    history: PorHistory = field(default_factory=PorHistory)

    @property
    def drift(self) -> str:
        """What differs, for a person; empty when they agree."""
        pc = self.imported.error_codes
        if self.agree:
            return ""
        if not pc:
            return "Partner Center says valid, porgate says invalid"
        if not self.porgate_codes:
            return "Partner Center says invalid, porgate says valid"
        missing = tuple(c for c in pc if c not in self.porgate_codes)
        return f"porgate lacks Partner Center's {_codes_text(missing)}"


def triage(
    rows: Iterable[ImportedRow],
    distributor_id: str,
    registry: Registry,
    histories: Mapping[str, PorHistory],
) -> list[TriageRow]:
    """One row per imported reseller, in file order, with porgate's codes now."""
    result = []
    for row in rows:
        codes = tuple(int(c) for c in evaluate_por(row.partner_id, distributor_id, registry))
        result.append(
            TriageRow(
                row,
                codes,
                agrees(row.error_codes, codes),
                histories.get(row.partner_id, PorHistory()),
            )
        )
    return result


def _codes_text(codes: Iterable[int]) -> str:
    return ",".join(map(str, codes))
