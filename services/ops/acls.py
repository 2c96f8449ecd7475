"""Kafka ACLs as the broker's authorizer applies them: does a principal have a right?

Pure: the bindings come from DescribeAcls (doctor_checks.py). Codes are Kafka's own
(org.apache.kafka.common.acl / resource).
"""

from __future__ import annotations

from dataclasses import dataclass

TOPIC, GROUP = 2, 3
LITERAL, PREFIXED = 3, 4
ALL, READ, WRITE, DESCRIBE = 2, 3, 4, 8
DENY, ALLOW = 2, 3
WILDCARD = "*"
# Kafka grants DESCRIBE with any of these.
IMPLIES_DESCRIBE = frozenset({READ, WRITE, 6, 7})  # 6 DELETE, 7 ALTER
OPERATION_NAMES = {READ: "Read", WRITE: "Write", DESCRIBE: "Describe"}
RESOURCE_NAMES = {TOPIC: "topic", GROUP: "group"}


@dataclass(frozen=True)
class Binding:
    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission: int


@dataclass(frozen=True)
class Need:
    """A right porgate needs: an operation on a topic or a group."""

    resource_type: int
    name: str
    operation: int

    def describe(self) -> str:
        return (
            f"{OPERATION_NAMES[self.operation]} on {RESOURCE_NAMES[self.resource_type]} {self.name}"
        )


def _names_resource(b: Binding, resource_type: int, name: str) -> bool:
    if b.resource_type != resource_type:
        return False
    if b.pattern_type == LITERAL:
        return b.resource_name in (name, WILDCARD)
    return b.pattern_type == PREFIXED and name.startswith(b.resource_name)


def _covers(b: Binding, operation: int) -> bool:
    if b.operation in (ALL, operation):
        return True
    return operation == DESCRIBE and b.permission == ALLOW and b.operation in IMPLIES_DESCRIBE


def allowed(bindings: list[Binding], principal: str, need: Need) -> bool:
    """As Kafka decides: a matching DENY wins, else a matching ALLOW is needed."""
    mine = [
        b
        for b in bindings
        if b.principal in (principal, "User:*")
        and _names_resource(b, need.resource_type, need.name)
        and _covers(b, need.operation)
    ]
    if any(b.permission == DENY for b in mine):
        return False
    return any(b.permission == ALLOW for b in mine)


def missing(bindings: list[Binding], principal: str, needs: list[Need]) -> list[Need]:
    return [n for n in needs if not allowed(bindings, principal, n)]


def grant_command(principal: str, need: Need) -> str:
    """The kafka-acls.sh line that grants `need`."""
    kind = "--topic" if need.resource_type == TOPIC else "--group"
    return (
        f"kafka-acls.sh --add --allow-principal {principal}"
        f" --operation {OPERATION_NAMES[need.operation]} {kind} {need.name}"
    )
