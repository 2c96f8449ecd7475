"""What `porgate dev` shows. In a terminal, one live frame: the banner (addresses and keys)
over the latest decisions, revocations and notifications, sized to the screen, so the banner
never scrolls away and nothing repeats in the scrollback. Piped, the banner and then a line
per event, which a log file or `grep` can follow."""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

TERMINATION_FAILED = "gdap.termination.failed.v1"


@dataclass(frozen=True)
class Banner:
    """Where everything is: (label, value) lines under a title."""

    title: str
    lines: Sequence[tuple[str, str]]

    def plain(self) -> list[str]:
        width = max(len(label) for label, _ in self.lines) + 1
        # An empty label continues the line above.
        return [self.title] + [
            f"{label + ':' if label else '':<{width}} {value}" for label, value in self.lines
        ]

    def panel(self) -> Panel:
        text = Text("\n".join(self.plain()[1:]))
        return Panel.fit(text, title=self.title, border_style="green")


def row_budget(available: int, capacities: Sequence[int]) -> list[int]:
    """Rows for each table within `available` lines: every table's capacity when they fit;
    else one row each while lines remain, and the rest shared in proportion to capacity."""
    if sum(capacities) <= available:
        return list(capacities)
    rows = [0] * len(capacities)
    left = max(available, 0)
    for i, capacity in enumerate(capacities):
        if left and capacity:
            rows[i], left = 1, left - 1
    room = [c - r for c, r in zip(capacities, rows, strict=True)]
    total_room = sum(room)
    shares = [left * r // total_room if total_room else 0 for r in room]
    rows = [r + s for r, s in zip(rows, shares, strict=True)]
    left -= sum(shares)
    for i in range(len(rows)):  # what rounding left over, to the first tables with room
        extra = min(left, capacities[i] - rows[i])
        rows[i], left = rows[i] + extra, left - extra
    return rows


def _ref(decision: dict[str, Any]) -> str:
    return (
        decision.get("orderId") or f"{decision.get('changeKind')} {decision.get('subscriptionId')}"
    )


class Tally:
    """What the demo has seen: the latest events of each kind, and the counts."""

    def __init__(self) -> None:
        self.decisions: deque[dict[str, Any]] = deque(maxlen=14)
        self.revocations: deque[tuple[str, dict[str, Any]]] = deque(maxlen=6)
        self.notifications: deque[dict[str, Any]] = deque(maxlen=6)
        self.counts = {"accepted": 0, "blocked": 0, "revoked": 0, "notified": 0}
        # Decisions by authority, and those where Partner Center and the registry disagree.
        self.authorities: dict[str, int] = {}
        self.drifts = 0

    def decision(self, data: dict[str, Any]) -> None:
        self.decisions.appendleft(data)
        self.counts[data["outcome"]] += 1
        authority = data.get("authority", "registry")
        self.authorities[authority] = self.authorities.get(authority, 0) + 1
        self.drifts += bool(data.get("registryDrift"))

    def revocation(self, event_type: str, data: dict[str, Any]) -> None:
        self.revocations.appendleft((event_type, data))
        self.counts["revoked"] += event_type != TERMINATION_FAILED

    def notification(self, payload: dict[str, Any]) -> None:
        self.notifications.appendleft(payload)
        self.counts["notified"] += 1

    def summary(self) -> list[str]:
        c = self.counts
        counts = "  ".join(f"{k} {n}" for k, n in c.items())
        lines = [counts]
        if set(self.authorities) - {"registry"}:
            by = "  ".join(f"{k} {n}" for k, n in sorted(self.authorities.items()))
            lines.append(f"decided by: {by}  registry drift {self.drifts}")
        return lines


class LineView(Tally):
    """Piped: a line per event as it comes, and the counts at the end."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def say(self, line: str) -> None:
        # soft_wrap: a pipe has no width; ids and titles stay whole on their line.
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def decision(self, data: dict[str, Any]) -> None:
        super().decision(data)
        codes = ",".join(map(str, data["errorCodes"])) or "-"
        self.say(
            f"{data['decidedAt'][11:19]}  decision      {data['outcome']:<8}  {data['distributorId']}"
            f"  {_ref(data)}  basis={data['basis']}  codes={codes}"
        )

    def revocation(self, event_type: str, data: dict[str, Any]) -> None:
        super().revocation(event_type, data)
        failed = event_type == TERMINATION_FAILED
        when = (data.get("failedAt") if failed else data.get("revokedAt")) or ""
        self.say(
            f"{when[11:19]}  {'gdap failed' if failed else 'revocation':<12}  {data['relationshipId']}"
            f"  customer={data['customerId']}  reseller={data['resellerTenantId']}"
            f"  reason={data['reason']}"
            + ("" if failed else f"  confirmed-by={data.get('confirmedBy') or '-'}")
        )

    def notification(self, payload: dict[str, Any]) -> None:
        super().notification(payload)
        self.say(
            f"{str(payload.get('createdAt', ''))[11:19]}  notification  {payload.get('kind', '')}"
            f"  {payload.get('distributorId', '')}  {payload.get('language', '')}"
            f"  {payload.get('title', '')}"
        )

    def finish(self) -> None:
        for line in self.summary():
            self.say(line)


class LiveView(Tally):
    """In a terminal: the frame rich's Live redraws, laid out anew for the screen's size at
    each refresh. It never outgrows the screen: taller, the terminal would scroll and leave a
    copy of its top in the scrollback at every redraw."""

    def __init__(self, banner: Banner) -> None:
        super().__init__()
        self.banner = banner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        c = self.counts
        summary = Text.from_markup(
            f"[green]accepted {c['accepted']}[/]  [red]blocked {c['blocked']}[/]"
            f"  [yellow]revoked {c['revoked']}[/]  notified {c['notified']}   (Ctrl-C to stop)"
        )
        summary.append("".join(f"\n{line}" for line in self.summary()[1:]))
        tables = [self._decisions, self._revocations, self._notifications]
        capacities = [self.decisions.maxlen, self.revocations.maxlen, self.notifications.maxlen]
        chrome = Group(self.banner.panel(), summary, *(table(0) for table in tables))
        measure = options.update(height=None)
        fixed = len(console.render_lines(chrome, measure, pad=False, new_lines=False))
        # One line short of the screen: the cursor sits on the line after the frame.
        rows = row_budget(console.height - 1 - fixed, capacities)
        yield Group(
            self.banner.panel(), summary, *(table(n) for table, n in zip(tables, rows, strict=True))
        )

    def _decisions(self, rows: int) -> Table:
        t = Table(title="POR decisions (por.decisions.v1)", expand=True, title_justify="left")
        t.add_column("time", no_wrap=True)
        t.add_column("transaction", no_wrap=True, overflow="ellipsis", ratio=2)
        t.add_column("distributor", no_wrap=True)
        t.add_column("basis", no_wrap=True, overflow="ellipsis", ratio=1)
        t.add_column("outcome", no_wrap=True)
        t.add_column("codes", no_wrap=True, overflow="ellipsis", ratio=1)
        shown = list(self.decisions)[:rows]
        for d in shown:
            colour = "red" if d["outcome"] == "blocked" else "green"
            t.add_row(
                d["decidedAt"][11:19],
                _ref(d),
                d["distributorId"],
                d["basis"],
                f"[{colour}]{d['outcome']}[/]",
                ",".join(map(str, d["errorCodes"])),
            )
        for _ in range(rows - len(shown)):  # a constant height: a growing frame scrolls
            t.add_row()
        return t

    def _revocations(self, rows: int) -> Table:
        t = Table(title="GDAP revocations (gdap.revocations.v1)", expand=True, title_justify="left")
        for col in ("relationship", "customer", "reseller", "reason", "confirmed by Graph"):
            t.add_column(col, no_wrap=True, overflow="ellipsis", ratio=1)
        shown = list(self.revocations)[:rows]
        for event_type, x in shown:
            reason = (
                f"[red]termination failed: {x['reason']}[/]"
                if event_type == TERMINATION_FAILED
                else f"[yellow]{x['reason']}[/]"
            )
            confirmed = x.get("confirmedBy") or (
                "[red]no[/]" if event_type == TERMINATION_FAILED else ""
            )
            t.add_row(
                x["relationshipId"], x["customerId"], x["resellerTenantId"], reason, confirmed
            )
        for _ in range(rows - len(shown)):
            t.add_row()
        return t

    def _notifications(self, rows: int) -> Table:
        t = Table(
            title="Notifications delivered to the webhook (signature verified)",
            expand=True,
            title_justify="left",
        )
        t.add_column("kind", no_wrap=True)
        t.add_column("distributor", no_wrap=True)
        t.add_column("lang", no_wrap=True)
        # The title takes what the other columns leave: the whole width of the screen.
        t.add_column("title", no_wrap=True, overflow="ellipsis", ratio=1)
        shown = list(self.notifications)[:rows]
        for x in shown:
            t.add_row(
                x.get("kind", ""),
                x.get("distributorId", ""),
                x.get("language", ""),
                Text(str(x.get("title", ""))),
            )
        for _ in range(rows - len(shown)):
            t.add_row()
        return t


class _CurrentStderr:
    """sys.stderr as it is at each write. Live swaps in a proxy that prints above its frame;
    a log handler holding the stderr of its creation would write through the frame."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def logs_above_the_frame() -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_CurrentStderr())  # type: ignore[arg-type]
