"""The Kafka hostile corpus's shared part: the records broken the same way on every consumed
topic, the check that each became exactly one dead letter per consumer group, with its
reason, its original bytes and key, and that people can read every such letter (the console,
`porgate dlq`) (tests/reliability/test_bad_input*.py)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field

from contracts.topics import TOPICS_BY_NAME
from services.settings import Settings
from tests.console.conftest import KEY_EU, OPERATOR_KEY, console_server
from tests.console.test_access import signed_in
from tests.reliability.harness import dlq_headers, run_cli

# Valid strings, however they look: stored and echoed verbatim, decided normally.
HOSTILE = (
    "o'; DROP TABLE x;--$(rm -rf /)`id`|| pg_sleep(5) %s %(x)s {0} $1 \\ \" <script> "
    "\x01\x07\x1b[31m\x7f\r\n\t\u202e\u2028🙂"
)


def h(tag: str) -> str:
    """A distinct hostile string per field (all within the 256-character limits)."""
    return f"{tag}:{HOSTILE}"


@dataclass
class Case:
    label: str
    topic: str
    value: bytes | None
    reason: str | None = None  # a dead letter whose x-dlq-error contains this (case-insensitive)
    key: str | bytes = "bad"
    sent: tuple[int, int] | None = None  # partition, offset
    producer_error: str | None = None
    extra: dict = field(default_factory=dict)


def raw(e: dict) -> bytes:
    return json.dumps(e).encode()


def with_data(e: dict, **data) -> dict:
    return {**e, "data": {**e["data"], **data}}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def foreign_type(topic: str) -> str:
    """A known event type that does not belong on `topic`."""
    own = TOPICS_BY_NAME[topic].event_types
    return next(t for t in ("gdap.privileges.revoked.v1", "csp.order.placed.v1") if t not in own)


def generic_corpus(topic: str, env: dict) -> list[Case]:
    """Broken at the byte, JSON and envelope level: the same on every topic. `env` is a valid
    envelope for `topic` (source "/tests", as tests.support.envelope writes it)."""
    t = topic.split(".")[1]
    good = raw(env)
    cases = [
        Case("not UTF-8", topic, b"\xff\xfe\xfa garbage \x80\x81", "not UTF-8"),
        Case(
            "invalid UTF-8 inside a JSON string",
            topic,
            good.replace(b'"/tests"', b'"/tests\xc3\x28"'),
            "not UTF-8",
        ),
        Case("not JSON", topic, b"{not json", "not JSON"),
        Case("truncated JSON", topic, good[: len(good) // 2], "not JSON"),
        Case("empty value", topic, b"", "not JSON"),
        Case("tombstone (no value)", topic, None, "tombstone"),
        Case("JSON array", topic, b"[1, 2, 3]", "not an object"),
        Case("JSON string", topic, b'"csp.order.placed.v1"', "not an object"),
        Case("JSON number", topic, b"42", "not an object"),
        Case("JSON null", topic, b"null", "not an object"),
        Case(
            "raw control byte in JSON",
            topic,
            good.replace(b'"/tests"', b'"/te\x00sts"'),
            "not JSON",
        ),
        Case("UTF-8 BOM", topic, b"\xef\xbb\xbf" + good, "not JSON"),
        Case(
            "integer of 5000 digits", topic, good[:-1] + b', "n": ' + b"9" * 5000 + b"}", "not JSON"
        ),
        Case("nested 100000 deep", topic, nested(100_000), "nested too deeply"),
        Case(
            "data nested 50000 deep",
            topic,
            good[:-1] + b', "deep": ' + nested(50_000) + b"}",
            "nested too deeply",
        ),
        Case("data of 1.5 MB", topic, raw(with_data(env, padding="x" * 1_500_000)), "exceeds"),
        Case(
            "unknown event type",
            topic,
            raw({**env, "type": "csp.order.cancelled.v1"}),
            "unknown event type",
        ),
        Case(
            "event type of another topic",
            topic,
            raw({**env, "type": foreign_type(topic)}),
            "does not belong",
        ),
        Case("specversion 2.0", topic, raw({**env, "specversion": "2.0"}), "envelope specversion"),
        Case("id as a number", topic, raw({**env, "id": 12345}), "envelope id"),
        Case("empty id", topic, raw({**env, "id": ""}), "envelope id"),
        Case("time not a time", topic, raw({**env, "time": "yesterday"}), "envelope time"),
        Case("time without a zone", topic, raw({**env, "time": "2026-01-10T09:00:00"}), "timezone"),
        Case("data a list", topic, raw({**env, "data": [env["data"]]}), "envelope data"),
        Case(
            "data a string", topic, raw({**env, "data": json.dumps(env["data"])}), "envelope data"
        ),
        Case("NUL escaped in a string", topic, raw({**env, "subject": "a\u0000b"}), "NUL"),
        Case("NUL escaped in a key", topic, raw(with_data(env, **{"k\u0000": 1})), "NUL"),
        Case("a key that is not UTF-8", topic, b"{not json", "not JSON", key=b"\xff\x00\xfe"),
    ]
    for missing in ("id", "source", "type", "time", "data"):
        cases.append(
            Case(
                f"envelope without {missing}",
                topic,
                raw({k: v for k, v in env.items() if k != missing}),
                f"envelope {missing}",
            )
        )
    for c in cases:
        c.label = f"{t}: {c.label}"
    return cases


def dead_letter_problems(
    settings: Settings, expected: list[tuple[Case, str]], dead: list
) -> list[str]:
    """What is wrong with the dead letters `dead` read back, for the (case, consumer group)
    pairs `expected`: each must be there once, with the original value and key, a reason
    naming the case's, and when it failed; and no other letter may be there."""
    found: dict[tuple, list] = defaultdict(list)
    for rec in dead:
        hd = dlq_headers(rec)
        found[
            (
                hd["x-dlq-source-topic"],
                int(hd["x-dlq-source-partition"]),
                int(hd["x-dlq-source-offset"]),
                hd["x-dlq-consumer-group"].removeprefix(settings.topic_prefix),
            )
        ].append((rec, hd))
    problems = []
    for case, group in expected:
        got = found.pop((case.topic, *case.sent, group), [])
        if len(got) != 1:
            problems.append(f"{case.label} [{group}]: {len(got)} dead letter(s)")
            continue
        rec, hd = got[0]
        if rec.value != case.value:
            problems.append(
                f"{case.label} [{group}]: dead letter's value is not the original bytes"
            )
        if rec.key != (case.key.encode() if isinstance(case.key, str) else case.key):
            problems.append(f"{case.label} [{group}]: dead letter's key is not the original key")
        if case.reason.lower() not in hd["x-dlq-error"].lower():
            problems.append(
                f"{case.label} [{group}]: reason {hd['x-dlq-error']!r} lacks {case.reason!r}"
            )
        if not hd.get("x-dlq-failed-at", "").startswith("20"):
            problems.append(f"{case.label} [{group}]: no x-dlq-failed-at")
    if found:
        problems.append(
            f"unexpected dead letters: {[(k, v[0][1]['x-dlq-error']) for k, v in found.items()]}"
        )
    return problems


# The letters an operator is most likely to choke on: no value, not text, too deep to parse,
# megabytes, a NUL, a lone surrogate (no UTF-8 page or terminal can show it as parsed), NaN
# (which no reader of JSON takes).
NASTIEST = (
    "tombstone",
    "not UTF-8",
    "nested 100000 deep",
    "data nested",
    "1.5 MB",
    "NUL escaped",
    "lone surrogate",
    "NaN",
)


async def operators_read(settings: Settings, expected: list[tuple[Case, str]], dead: list) -> int:
    """The dead letters of the corpus read as people read them: the console's list (an
    operator's, and a distributor's, filtered by what each letter names) of them all; the
    page of the nastiest of each kind, and `porgate dlq list`, and `porgate dlq inspect` of
    those in text and JSON. None a 500 or a traceback. Returns how many reads."""
    where = {
        (
            h["x-dlq-source-topic"],
            int(h["x-dlq-source-partition"]),
            int(h["x-dlq-source-offset"]),
        ): r
        for r in dead
        for h in [dlq_headers(r)]
    }
    nastiest = {}  # one letter of each kind
    for case, _ in expected:
        kind = next((n for n in NASTIEST if n in case.label), None)
        if kind is not None and kind not in nastiest:
            nastiest[kind] = (case.label, where[(case.topic, *case.sent)])
    assert len(nastiest) == len(NASTIEST), set(NASTIEST) - set(nastiest)
    reads = 0
    # Each letter's page reads it from Kafka on its own: the nastiest only, not all of them.
    async with console_server(settings) as url:
        for key in (OPERATOR_KEY, KEY_EU):
            async with signed_in(url, key) as (client, _):
                listing = await client.get("/console/dead-letters")
                assert listing.status_code == 200, (key, listing.status_code, listing.text[:300])
                assert "internal error" not in listing.text
                reads += 1
                for label, rec in nastiest.values() if key == OPERATOR_KEY else ():
                    page = await client.get(f"/console/dead-letters/{rec.partition}/{rec.offset}")
                    assert page.status_code == 200, (label, page.status_code, page.text[:300])
                    reads += 1
    listed = await asyncio.to_thread(run_cli, settings, "dlq", "list", "--format", "json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr[-2000:]
    assert len(json.loads(listed.stdout)) == len(dead)
    reads += 1
    # A few at once: each command mostly waits for the broker.
    running = asyncio.Semaphore(4)

    async def inspect(label: str, rec, fmt: str) -> None:
        args = ("dlq", "inspect", str(rec.offset), "--partition", str(rec.partition))
        async with running:
            shown = await asyncio.to_thread(run_cli, settings, *args, "--format", fmt)
        assert shown.returncode == 0, (label, fmt, shown.stderr[-2000:])
        assert "Traceback" not in shown.stderr + shown.stdout[:10_000], (label, fmt)
        if fmt == "json":
            json.loads(shown.stdout)

    await asyncio.gather(
        *(inspect(label, rec, fmt) for label, rec in nastiest.values() for fmt in ("text", "json"))
    )
    reads += 2 * len(nastiest)
    return reads
