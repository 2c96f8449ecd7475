"""Topics: created by the init step with `porgate topics`, configured in contracts.topics only."""

from __future__ import annotations

import re

from contracts.topics import ALL_TOPICS
from tests.deploy.linter.porgate import Problems, topics_replication

EXPECTED_REPLICATION = {"compose": 1, "k8s": 3}

TOPIC_SETTING = re.compile(
    r"num[._]partitions|partitions\s*[:=]|--partitions|retention[._](ms|bytes|hours|minutes)|cleanup[._]policy",
    re.IGNORECASE,
)


def init_problems(
    where: str, invocations: list[list[str]], env: dict[str, str], replication: int
) -> Problems:
    """The init step migrates, then creates topics (their settings: contracts.topics)."""
    names = [args[0] for args in invocations if args]
    if "migrate" not in names or "topics" not in names:
        return [f"{where}: must run `porgate migrate` and `porgate topics`, runs {invocations}"]
    problems = []
    if names.index("migrate") > names.index("topics"):
        problems.append(f"{where}: topics before migrate")
    topics = next(args for args in invocations if args[:1] == ["topics"])
    got = topics_replication(topics, env)
    if got != replication:
        problems.append(f"{where}: replication factor {got}, want {replication}")
    return problems


def topic_leak_problems(texts: dict[str, str]) -> Problems:
    """Topic names and settings belong to contracts/topics.py alone."""
    problems = []
    for where, text in texts.items():
        for topic in ALL_TOPICS:
            if topic.name in text:
                problems.append(
                    f"{where}: names topic {topic.name}; its settings live in contracts/topics.py"
                )
        for match in TOPIC_SETTING.finditer(text):
            problems.append(f"{where}: topic setting {match.group(0)!r}; use `porgate topics`")
    return problems
