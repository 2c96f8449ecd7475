"""Bytes to typed events and back, with one short reason for everything that can go wrong."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts.envelope import CloudEvent, RawEnvelope
from contracts.events import TransactionDecision
from contracts.ids import derived_event_id
from contracts.topics import EVENT_MODELS, EVENT_TYPES, TOPICS_BY_NAME
from contracts.trusted import trusted_builder

MAX_MESSAGE_BYTES = 1024 * 1024
_ENVELOPES: dict[str, type[CloudEvent[Any]]] = {t: CloudEvent[m] for t, m in EVENT_MODELS.items()}  # type: ignore[valid-type]
# A JSON-escaped NUL (\u0000), not preceded by an escaped backslash.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_ESCAPED_NUL_BYTES = re.compile(_ESCAPED_NUL.pattern.encode())
# The envelope's `type`, as it is in every valid message: a plain string without escapes.
_TYPE_FIELD = re.compile(rb'"type"\s*:\s*"([^"\\]{1,256})"')
# Topics that carry one event type: their messages need no search for it.
_SOLE_TYPE = {t.name: t.event_types[0] for t in TOPICS_BY_NAME.values() if len(t.event_types) == 1}


class InvalidMessage(ValueError):
    """The message can never be processed: it belongs in the dead-letter topic."""


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    errors = exc.errors(include_url=False, include_input=False)
    err = errors[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{prefix}{loc}: {err['msg']}{more}"


def _reason(exc: ValidationError, event_type: str) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    if (
        first["type"] == "json_invalid"
    ):  # e.g. a lone UTF-16 surrogate, which json.loads lets through
        return f"{event_type}: {first['msg']}"
    in_data = len(first["loc"]) > 1 and first["loc"][0] == "data"  # inside data, not data itself
    return _first_error(exc, f"{event_type}: " if in_data else "envelope ")


def decode(raw: bytes | None, topic: str | None = None) -> CloudEvent[Any]:
    """Parse one message value; raise InvalidMessage with a human-readable reason."""
    if raw is None:
        raise InvalidMessage("empty message value (tombstone)")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"message of {len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}")
    event = _decode_valid(raw, topic)
    return event if event is not None else _decode_or_explain(raw, topic)


def _decode_valid(raw: bytes, topic: str | None) -> CloudEvent[Any] | None:
    """A valid message in one pass of pydantic's parser, or None for `_decode_or_explain`.

    The envelope's model is the topic's one event type, or else picked by the first
    `"type": "..."` in the bytes, which may be a field of `data`; the parsed envelope's own
    type must then be the one picked, so a wrong pick can only send a message down the slow
    path, never decode it as something else.
    """
    event_type = _SOLE_TYPE.get(topic) if topic is not None else None
    if event_type is None:
        match = _TYPE_FIELD.search(raw)
        if match is None:
            return None
        event_type = match.group(1).decode("utf-8", "replace")
        if (
            topic is not None
            and topic in TOPICS_BY_NAME
            and event_type not in TOPICS_BY_NAME[topic].event_types
        ):
            return None
    envelope = _ENVELOPES.get(event_type)
    if envelope is None:
        return None
    # An escaped NUL needs a backslash: one scan for it spares most messages the other two.
    if b"\x00" in raw or (b"\\" in raw and b"\\u0000" in raw and _ESCAPED_NUL_BYTES.search(raw)):
        return None
    try:
        event = envelope.model_validate_json(raw, strict=True)
    except (ValidationError, RecursionError):
        return None
    return event if event.type == event_type else None


def _decode_or_explain(raw: bytes, topic: str | None) -> CloudEvent[Any]:
    """Decode step by step, so that what is wrong with an invalid message gets its reason."""
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
        raise InvalidMessage(
            f"not a CloudEvents envelope: JSON {type(obj).__name__}, not an object"
        )
    event_type = obj.get("type")
    envelope = _ENVELOPES.get(event_type) if isinstance(event_type, str) else None
    if envelope is None:
        try:
            RawEnvelope.model_validate(obj)
        except ValidationError as exc:
            raise InvalidMessage(_first_error(exc, "envelope ")) from None
        raise InvalidMessage(f"unknown event type {event_type!r}")
    if (
        topic is not None
        and topic in TOPICS_BY_NAME
        and event_type not in TOPICS_BY_NAME[topic].event_types
    ):
        raise InvalidMessage(f"event type {event_type!r} does not belong on topic {topic!r}")
    try:
        # Envelope and data in one pass, its fields first, so an envelope error is reported
        # first. Strict JSON mode: "5" is not a quantity, nor 1 a boolean, nor a number a
        # timestamp; the JSON Schema in contracts/schemas/ refuses them, and so do we.
        event = envelope.model_validate_json(text, strict=True)
    except ValidationError as exc:
        if "recursion limit" not in str(exc):
            raise InvalidMessage(_reason(exc, event_type)) from None
        # pydantic's JSON parser nests less deeply than json.loads; an unknown field nested
        # that deep is still no error (the contract keeps extras), so check the parsed object.
        try:
            event = envelope.model_validate(obj)
        except ValidationError as exc2:
            raise InvalidMessage(_reason(exc2, event_type)) from None
        except RecursionError:
            raise InvalidMessage(f"{event_type}: data nested too deeply") from None
    except RecursionError:
        raise InvalidMessage(f"{event_type}: data nested too deeply") from None
    if "\x00" in text or ("\\u0000" in text and _ESCAPED_NUL.search(text)):
        # PostgreSQL text cannot hold NUL; refusing here gives a clear reason instead of a
        # database error after retries.
        raise InvalidMessage("NUL character (\\u0000) in a string")
    return event


def new_event(
    data: BaseModel,
    *,
    source: str,
    id: str | None = None,
    subject: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[Any]:
    """Wrap `data` in an envelope whose type is the one the registry gives its model."""
    event_type = EVENT_TYPES[type(data)]
    # The envelope class from decode's table: a dict lookup, where `CloudEvent[Model]` costs
    # a trip through pydantic's generic-class cache on every call.
    envelope = _ENVELOPES[event_type]
    id = id or str(uuid.uuid4())
    time = time or datetime.now(UTC)
    if (
        type(source) is str
        and 0 < len(source) <= 1024
        and type(id) is str
        and len(id) <= 256
        and (subject is None or type(subject) is str)
        and type(time) is datetime
        and time.tzinfo is UTC
    ):
        # The arguments the services pass (plain strings within the envelope's bounds, a
        # UTC time) are valid as they are, and `data` is its registered model's instance.
        return trusted_builder(envelope)(
            id=id,
            source=source,
            type=event_type,
            time=time,
            subject=subject,
            data=data,
        )
    return envelope(id=id, source=source, type=event_type, time=time, subject=subject, data=data)


def encode(event: CloudEvent[Any]) -> bytes:
    # model_dump_json(by_alias=True).encode(), without decoding the bytes to str and back.
    return event.__pydantic_serializer__.to_json(event, by_alias=True)


def encode_data(data: BaseModel) -> bytes:
    """An event's `data` as its envelope carries it: `data.model_dump_json(by_alias=True)`,
    as bytes. For a model stored as well as published (a decision), with `encode_with_data`."""
    return data.__pydantic_serializer__.to_json(data, by_alias=True)


_DATA_FIELD = {"data"}


def encode_with_data(event: CloudEvent[Any], data: bytes) -> bytes:
    """`encode(event)`, given `encode_data(event.data)`: the data, often most of the bytes, is
    serialized once for the store and the outbox. `data` is last of the envelope's fields, and
    only extras come after it (then the event is encoded whole)."""
    if event.__pydantic_extra__:
        return encode(event)
    head = event.__pydantic_serializer__.to_json(event, by_alias=True, exclude=_DATA_FIELD)
    return b"".join((head[:-1], b',"data":', data, b"}"))


def decision_event(decision: TransactionDecision, *, source: str) -> CloudEvent[Any]:
    """A decision's CloudEvent, whoever decided it: its id derives from the decision's, so
    deciding again (a redelivery) publishes the same event."""
    return new_event(
        decision,
        source=source,
        id=derived_event_id("decision-event", decision.decision_id),
        subject=decision.transaction_key,
        time=decision.decided_at,
    )
