"""Bytes to typed events and back, with one short reason for everything that can go wrong."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts.envelope import CloudEvent, RawEnvelope
from contracts.topics import EVENT_MODELS, EVENT_TYPES, TOPICS_BY_NAME

MAX_MESSAGE_BYTES = 1024 * 1024
# A JSON-escaped NUL (\u0000), not preceded by an escaped backslash.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class InvalidMessage(ValueError):
    """The message can never be processed: it belongs in the dead-letter topic."""


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    errors = exc.errors(include_url=False, include_input=False)
    err = errors[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{prefix}{loc}: {err['msg']}{more}"


def decode(raw: bytes | None, topic: str | None = None) -> CloudEvent[Any]:
    """Parse one message value; raise InvalidMessage with a human-readable reason."""
    if raw is None:
        raise InvalidMessage("empty message value (tombstone)")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"message of {len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMessage(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        obj = json.loads(text)
    except RecursionError:
        raise InvalidMessage("JSON nested too deeply") from None
    except ValueError as exc:
        raise InvalidMessage(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidMessage(f"not a CloudEvents envelope: JSON {type(obj).__name__}, not an object")
    try:
        env = RawEnvelope.model_validate(obj)
    except ValidationError as exc:
        raise InvalidMessage(_first_error(exc, "envelope ")) from None
    model = EVENT_MODELS.get(env.type)
    if model is None:
        raise InvalidMessage(f"unknown event type {env.type!r}")
    if topic is not None and topic in TOPICS_BY_NAME and env.type not in TOPICS_BY_NAME[topic].event_types:
        raise InvalidMessage(f"event type {env.type!r} does not belong on topic {topic!r}")
    try:
        data = model.model_validate(env.data)
    except (ValidationError, RecursionError) as exc:
        reason = _first_error(exc, "data.") if isinstance(exc, ValidationError) else "data nested too deeply"
        raise InvalidMessage(f"{env.type}: {reason}") from None
    if "\x00" in text or ("\\u0000" in text and _ESCAPED_NUL.search(text)):
        # PostgreSQL text cannot hold NUL; refusing here gives a clear reason instead of a
        # database error after retries.
        raise InvalidMessage("NUL character (\\u0000) in a string")
    fields = env.model_dump(exclude={"data"})
    return CloudEvent[model].model_construct(**fields, data=data)  # type: ignore[valid-type]


def new_event(
    data: BaseModel,
    *,
    source: str,
    id: str | None = None,
    subject: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """Wrap `data` in an envelope whose type is the one the registry gives its model."""
    return CloudEvent[type(data)](  # type: ignore[misc]
        id=id or str(uuid.uuid4()),
        source=source,
        type=EVENT_TYPES[type(data)],
        time=time or datetime.now(timezone.utc),
        subject=subject,
        data=data,
    )


def encode(event: CloudEvent[Any]) -> bytes:
    return event.model_dump_json(by_alias=True).encode()
