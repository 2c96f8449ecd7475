"""Deterministic ids: every instance, and every replay, derives the same id from the same cause."""

from __future__ import annotations

import uuid
from hashlib import sha1

# Fixed forever: changing it would give every replayed event a new id.
NAMESPACE = uuid.UUID("5b0e8f3c-6f2f-4a3e-9d0c-8f7f2b7c1a10")
_NAMESPACE_BYTES = NAMESPACE.bytes
# The variant's hex digit: its two high bits set to 10 (RFC 4122).
_VARIANT = {f"{v:x}": f"{v & 3 | 8:x}" for v in range(16)}


def uuid5_of(name: str) -> str:
    """str(uuid.uuid5(NAMESPACE, name)), without building a UUID object on the hot path."""
    h = sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def derived_event_id(kind: str, *parts: str) -> str:
    """A deterministic CloudEvents id for an event caused by another event."""
    return uuid5_of(":".join((kind, *parts)))


def decision_id_for(source_event_id: str, supersedes_decision_id: str | None = None) -> str:
    """Same source event, same decision id; a re-validation gets its own."""
    name = f"decision:{source_event_id}"
    if supersedes_decision_id:
        name += f":supersedes:{supersedes_decision_id}"
    return uuid5_of(name)
