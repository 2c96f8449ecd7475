"""Pure view models: what the templates show, computed from rows and records."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.errors import describe, language_of
from contracts.events import DecisionLine
from services.console.charts import Chart, Ranking, horizontal_bars, stacked_bars
from services.domain.explain import explain, from_wire
from services.domain.por_rules import Registry, normalize_partner_id
from services.ops.dead_letters import parse_json
from services.rendering.explanation import render_step

PAGE_SIZE = 50


# ----------------------------------------------------------------------------- pages of rows


def encode_cursor(decided_at: datetime, decision_id: str) -> str:
    """The keyset of the last row shown, opaque in the URL."""
    raw = json.dumps([decided_at.isoformat(), decision_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[datetime, str] | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, decision_id = json.loads(raw)
        when = datetime.fromisoformat(at)
    except (ValueError, TypeError):
        return None
    if not isinstance(decision_id, str) or when.tzinfo is None:
        return None
    return when, decision_id


# What the date fields take, in ISO 8601 order whatever the browser's locale.
TIME_FORMAT_HINT = "YYYY-MM-DD or YYYY-MM-DD HH:MM, UTC"


def parse_local_time(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date and time, read as UTC when it names no zone; a date alone is
    its first moment, or with `end_of_day` the next day's (an "until" date includes its day).
    Raises ValueError for anything else."""
    if not text or not text.strip():
        return None
    text = text.strip()
    value = datetime.fromisoformat(text)
    if end_of_day and len(text) == len("2026-01-10"):
        value += timedelta(days=1)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_code(text: str | None) -> int | None:
    try:
        return int(text) if text and text.strip() else None
    except ValueError:
        return None


# ----------------------------------------------------------------------------- overview


@dataclass(frozen=True, slots=True)
class Overview:
    hour: Chart
    day: Chart
    codes: Ranking
    accepted_hour: int
    blocked_hour: int
    accepted_day: int
    blocked_day: int

    @property
    def blocked_share_hour(self) -> str:
        return _share(self.blocked_hour, self.accepted_hour + self.blocked_hour)

    @property
    def blocked_share_day(self) -> str:
        return _share(self.blocked_day, self.accepted_day + self.blocked_day)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def overview(
    per_minute: Iterable[Mapping[str, Any]], codes: Iterable[Mapping[str, Any]], now: datetime
) -> Overview:
    """Per-minute counts of the last day → the hour by minute, the day by 15 minutes."""
    counts: Counter[tuple[datetime, str]] = Counter()
    for row in per_minute:
        counts[(row["minute"], row["outcome"])] += row["n"]
    end = now.replace(second=0, microsecond=0)
    minutes = [end - timedelta(minutes=i) for i in range(24 * 60 - 1, -1, -1)]

    def series(slots: list[datetime], width: int, outcome: str) -> list[float]:
        return [
            sum(counts[(s + timedelta(minutes=k), outcome)] for k in range(width)) / width
            for s in slots
        ]

    hour_slots = minutes[-60:]
    day_slots = minutes[::15]
    hour = stacked_bars(
        "Decisions per minute, last hour",
        [f"{s:%H:%M}" for s in hour_slots],
        [
            ("accepted", series(hour_slots, 1, "accepted")),
            ("blocked", series(hour_slots, 1, "blocked")),
        ],
        unit="per minute",
        label_every=10,
    )
    day = stacked_bars(
        "Decisions per minute, last day (15-minute averages)",
        [f"{s:%H:%M}" for s in day_slots],
        [
            ("accepted", series(day_slots, 15, "accepted")),
            ("blocked", series(day_slots, 15, "blocked")),
        ],
        unit="per minute",
        label_every=16,
        whole=False,
    )
    known = [r for r in codes if r["code"]]
    # code_texts, not describe: a code Partner Center answers may be one the catalogue lacks.
    texts = code_texts((r["code"] for r in known), "en")
    code_rows = [(str(t.code), t.message, r["n"]) for t, r in zip(texts, known, strict=True)]
    since_hour = end - timedelta(minutes=59)
    return Overview(
        hour=hour,
        day=day,
        codes=horizontal_bars(
            "Top error codes, last day (primary code)", code_rows, "blocked", unit="blocked"
        ),
        accepted_hour=sum(n for (m, o), n in counts.items() if o == "accepted" and m >= since_hour),
        blocked_hour=sum(n for (m, o), n in counts.items() if o == "blocked" and m >= since_hour),
        accepted_day=sum(n for (_, o), n in counts.items() if o == "accepted"),
        blocked_day=sum(n for (_, o), n in counts.items() if o == "blocked"),
    )


# ----------------------------------------------------------------------------- a transaction


@dataclass(frozen=True, slots=True)
class CodeText:
    code: int
    message: str
    remediation: tuple[str, ...]


def code_texts(codes: Iterable[int], language: str) -> list[CodeText]:
    out = []
    for code in codes:
        try:
            text = describe(int(code), language)
        except (KeyError, ValueError):
            out.append(CodeText(int(code), f"unknown code {code}", ()))
            continue
        out.append(CodeText(int(code), text.message, text.remediation))
    return out


def decision_lines(decision: Mapping[str, Any], language: str) -> list[dict[str, Any]]:
    """Each line of a stored decision with its codes' texts in `language`."""
    lines = []
    for line in decision.get("lines", []):
        codes = line.get("errorCodes") or []
        lines.append(
            {
                "line_item_id": line.get("lineItemId"),
                "partner_id": line.get("partnerIdOnRecord"),
                "outcome": "blocked" if codes else "accepted",
                "codes": code_texts(codes, language),
                "registry_codes": line.get("registryErrorCodes"),
                "errors": line.get("errors") or [],
            }
        )
    return lines


# ----------------------------------------------------------------------------- dead letters


def distributor_of(value: bytes | None) -> str | None:
    """The distributor a dead letter's event names (`data.distributorId`), if it parses."""
    if not value:
        return None
    try:
        event = parse_json(value)
    except ValueError:  # UnicodeDecodeError included
        return None
    data = event.get("data") if isinstance(event, dict) else None
    found = data.get("distributorId") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def hex_dump(data: bytes | None, limit: int = 4096) -> str:
    """Offset, 16 bytes in hex, and their printable ASCII, as `xxd` shows them."""
    if data is None:
        return "(no value)"
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {text}")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit} more bytes")
    return "\n".join(lines)


def as_text(data: bytes | None, limit: int = 64 * 1024) -> str:
    if data is None:
        return "(no value)"
    text = data[:limit].decode("utf-8", "replace")
    try:
        return json.dumps(parse_json(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def fact_text(value: object) -> str:
    """A fact's value as the API's JSON writes it (true, false), not Python's; null is unknown."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def wire_time(text: str | None) -> str | None:
    """An as-of time from the wire, to the second, as the console shows every time."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return text


def line_explanations(decision: Mapping[str, Any], language: str) -> list[dict[str, Any]]:
    """The decision-table walk por-validator attached to the blocked lines, rendered in the
    reader's language (the rendering of notifications and `porgate explain`): one per PLA
    id, naming its lines, as one decision's lines with the same id share one walk."""
    out: dict[str, dict[str, Any]] = {}
    for raw in decision.get("lines") or ():
        if not raw.get("explanation"):
            continue
        line = DecisionLine.model_validate(raw)
        pid = line.partner_id_on_record
        key = normalize_partner_id(pid) or (pid or "")
        if key in out:
            out[key]["line_item_ids"].append(line.line_item_id)
            continue
        walk = from_wire(pid, decision["distributorId"], line.explanation)
        steps = [render_step(step, language_of(language)) for step in walk.steps]
        for step in steps:
            step["facts"] = [
                {**f, "text": fact_text(f["value"]), "asOf": wire_time(f["asOf"])}
                for f in step["facts"]
            ]
        out[key] = {"line_item_ids": [line.line_item_id], "partner_id": pid, "steps": steps}
    return list(out.values())


# As many PLA ids as the notification remediates (notifier.remediation.MAX_REMEDIATED_LINES).
MAX_REMEDIATED_IDS = 20


@dataclass(frozen=True, slots=True)
class BlockedId:
    """One PLA id of a decision's blocked lines, with those lines and their codes."""

    partner_id: str  # as on the first of its lines ("" for a line without one)
    line_item_ids: tuple[str, ...]
    codes: tuple[int, ...]

    @property
    def recheckable(self) -> bool:
        """Only a PLA id's shape can pass: nothing to ask about "" or "12ab"."""
        return normalize_partner_id(self.partner_id) is not None


def blocked_ids(decision: Mapping[str, Any]) -> list[BlockedId]:
    """The distinct PLA ids of the blocked lines (trimmed ids compare equal), in line order."""
    found: dict[str, tuple[str, list[str], list[int]]] = {}
    for line in decision.get("lines") or ():
        codes = line.get("errorCodes") or []
        if not codes:
            continue
        raw = line.get("partnerIdOnRecord") or ""
        key = normalize_partner_id(raw) or raw
        _, lines, known = found.setdefault(key, (raw, [], []))
        lines.append(str(line.get("lineItemId")))
        known.extend(c for c in codes if c not in known)
    return [
        BlockedId(raw, tuple(lines), tuple(codes))
        for raw, lines, codes in list(found.values())[:MAX_REMEDIATED_IDS]
    ]


# ----------------------------------------------------------------------------- resellers

# Steps that fail because the reseller is not this distributor's (no partnership, another
# region), not because anything about it is broken.
_NOT_YOURS_STEPS = frozenset({8, 9})


@dataclass(frozen=True, slots=True)
class Verdict:
    """A reseller's verdict for one distributor now: valid, "not yours" (only the
    partnership or the region fails) with why, or its codes with their text."""

    codes: tuple[CodeText, ...]
    not_yours: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.codes


def reseller_verdict(
    partner_id: str, distributor_id: str, registry: Registry, language: str
) -> Verdict:
    walk = explain(partner_id, distributor_id, registry)
    codes = tuple(code_texts(walk.codes, language))
    failed = {s.step for s in walk.steps if s.outcome == "fail"}
    if not failed or not failed <= _NOT_YOURS_STEPS:
        return Verdict(codes)
    read = {f.fact: f.value for s in walk.steps for f in s.facts}
    why = []
    if 8 in failed:
        why.append(f"no active partnership with {distributor_id}")
    if 9 in failed:
        why.append(
            f"in {read.get('resellerTenant.cspRegion')}, "
            f"{distributor_id} in {read.get('distributor.cspRegion')}"
        )
    return Verdict(codes, tuple(why))
