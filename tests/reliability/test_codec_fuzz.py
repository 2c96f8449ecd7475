"""The decoders under hypothesis: whatever the bytes, `contracts.codec.decode` either returns an
event or raises InvalidMessage (with a reason) -- never anything else; valid events round-trip.
Pure and fast: no broker, no database."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import annotated_types
import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError

from contracts import codec
from contracts.codec import InvalidMessage, decode, encode, new_event
from contracts.topics import EVENT_MODELS, TOPICS_BY_NAME
from tests.reliability.harness import tally

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
TOPIC_OF = {t: topic.name for topic in TOPICS_BY_NAME.values() for t in topic.event_types}
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
tried = {"n": 0}


def must_be_event_or_invalid(raw: bytes | None, topic: str | None) -> str:
    tried["n"] += 1
    try:
        event = decode(raw, topic)
    except InvalidMessage as exc:
        assert str(exc), "an InvalidMessage without a reason"
        return "invalid"
    # Anything else propagates and fails the test: the runtime would not dead-letter it.
    # The one-pass decoder accepts nothing the step-by-step one would refuse, nor reads it
    # differently.
    assert event == codec._decode_or_explain(raw, topic)
    return "event"


# ----------------------------------------------------------------------------- strategies

# Every character, including NUL, lone surrogates, controls and what JSON must escape.
any_text = st.text(st.characters(codec=None), max_size=40)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(any_text, inner, max_size=5),
    max_leaves=25,
)
topics = st.sampled_from([*TOPICS_BY_NAME, None])


def wire_text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    # Valid strings: anything but NUL (PostgreSQL text cannot hold it) and lone surrogates.
    return st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
        min_size=min_size,
        max_size=max_size,
    )


offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=offsets
)


def for_annotation(ann: Any, metadata: list) -> st.SearchStrategy:
    lo = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
    hi = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    ge = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(
            *(for_annotation(a, metadata if a is not type(None) else []) for a in args)
        )
    if ann is type(None):
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(args)
    if ann is AwareDatetime or ann is datetime:
        return aware
    if ann is str:
        return wire_text(max(lo, 0), min(hi or 40, 40))
    if ann is int:
        return st.integers(min_value=ge if ge is not None else -(2**31), max_value=2**31)
    if ann is bool:
        return st.booleans()
    if origin is list:
        return st.lists(for_annotation(args[0], []), min_size=max(lo, 0), max_size=min(hi or 3, 3))
    if origin is dict:
        return st.dictionaries(
            wire_text(),
            st.recursive(
                st.none() | st.booleans() | st.integers() | wire_text(),
                lambda inner: (
                    st.lists(inner, max_size=3) | st.dictionaries(wire_text(), inner, max_size=3)
                ),
                max_leaves=8,
            ),
            max_size=3,
        )
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return instances(ann)
    if ann is Any:
        return st.none() | st.integers() | wire_text()
    raise NotImplementedError(f"no strategy for {ann!r}")


def instances(model: type[BaseModel]) -> st.SearchStrategy[BaseModel]:
    fields = {
        name: for_annotation(f.annotation, list(f.metadata))
        if f.is_required()
        else st.one_of(st.just(...), for_annotation(f.annotation, list(f.metadata)))
        for name, f in model.model_fields.items()
    }

    def build(values: dict) -> BaseModel | None:
        try:
            return model(**{k: v for k, v in values.items() if v is not ...})
        except ValidationError:  # a cross-field rule of the model: not a valid instance
            return None

    return st.fixed_dictionaries(fields).map(build).filter(lambda m: m is not None)


valid_events = st.sampled_from(sorted(EVENT_MODELS)).flatmap(
    lambda t: st.tuples(st.just(t), instances(EVENT_MODELS[t]), wire_text(1, 40), wire_text(1, 40))
)


# ----------------------------------------------------------------------------- properties


@FUZZ
@given(raw=st.binary(max_size=3000), topic=topics)
def test_arbitrary_bytes_decode_or_are_invalid(raw, topic):
    must_be_event_or_invalid(raw, topic)


@FUZZ
@given(value=json_values, topic=topics)
def test_arbitrary_json_decodes_or_is_invalid(value, topic):
    must_be_event_or_invalid(json.dumps(value).encode(), topic)


@FUZZ
@given(event=valid_events, data=st.data())
def test_valid_envelopes_with_one_field_mutated_decode_or_are_invalid(event, data):
    """Delete or replace one field, anywhere in the envelope or its data, with any JSON value."""
    type_, model, source, id_ = event
    doc = json.loads(encode(new_event(model, source=source, id=id_)))
    paths: list[tuple] = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*path, k))
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                paths.append((*path, i))
                walk(v, (*path, i))

    walk(doc, ())
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    if data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    raw = json.dumps(doc).encode()
    must_be_event_or_invalid(
        raw, data.draw(st.sampled_from([TOPIC_OF[type_], None, *TOPICS_BY_NAME]))
    )
    # Cut anywhere, the bytes are not an event.
    cut = data.draw(st.integers(0, max(0, len(raw) - 1)))
    with pytest.raises(InvalidMessage):
        decode(raw[:cut], TOPIC_OF[type_])


@FUZZ
@given(
    event=valid_events,
    extras=st.dictionaries(
        wire_text(1, 10).filter(lambda k: not k[0].isalpha()),
        st.none() | st.integers() | wire_text(),
        max_size=3,
    ),
)
def test_valid_envelopes_round_trip(event, extras):
    type_, model, source, id_ = event
    original = new_event(model, source=source, id=id_, subject=source)
    raw = encode(original)
    tried["n"] += 1
    decoded = decode(raw, TOPIC_OF[type_])
    assert (
        decoded.type == type_
        and decoded.id == id_
        and decoded.source == source
        and decoded.time == original.time
    )
    assert type(decoded.data) is type(model) and decoded.data == model
    assert encode(decoded) == raw  # byte for byte
    # Unknown extra fields, in the envelope and in the data, are kept and ignored, never an error.
    doc = json.loads(raw)
    doc["data"].update(extras)
    doc.update({f"x{k}": v for k, v in extras.items()})
    again = decode(json.dumps(doc).encode(), TOPIC_OF[type_])
    assert again.data.model_dump(exclude=set(extras)) == model.model_dump()
    assert json.loads(encode(again))["data"] == doc["data"]


@FUZZ
@given(value=st.binary(min_size=1, max_size=200), topic=topics)
def test_bytes_that_are_not_utf8_are_invalid(value, topic):
    assume(not _utf8(value))
    with pytest.raises(InvalidMessage, match="not UTF-8"):
        decode(value, topic)


@FUZZ
@given(event=valid_events, bad=st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88"]))
def test_a_valid_envelope_with_bytes_that_are_not_utf8_is_invalid(event, bad):
    type_, model, _, id_ = event
    raw = encode(new_event(model, source="/s", id=id_)).replace(b'"/s"', b'"/s' + bad + b'"', 1)
    with pytest.raises(InvalidMessage, match="not UTF-8"):
        decode(raw, TOPIC_OF[type_])


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_deep_and_large_inputs_are_invalid_not_crashes():
    for raw in (
        b"[" * 200_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b" " * (1024 * 1024 + 1),
        b"9" * 10_000,
        None,
        b"",
    ):
        assert must_be_event_or_invalid(raw, "csp.orders.v1") == "invalid"


# ----------------------------------------------------------------------------- the contract's JSON Schema


def _schema_errors(event: dict) -> list[str]:
    schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [e.message for e in validator.iter_errors(event)]


def _order(**line_or_data) -> dict:
    data = {
        "orderId": "o-1",
        "distributorId": "d-1",
        "customerId": "c-1",
        "placedAt": "2026-01-10T09:00:00Z",
        "lineItems": [
            {"lineItemId": "1", "offerId": "x", "quantity": 5, "partnerIdOnRecord": "1000001"}
        ],
    }
    for k, v in line_or_data.items():
        if k in data["lineItems"][0]:
            data["lineItems"][0][k] = v
        else:
            data[k] = v
    return {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/s",
        "type": "csp.order.placed.v1",
        "time": "2026-01-10T09:00:00Z",
        "data": data,
    }


def _tenant(authorized) -> dict:
    return {
        "specversion": "1.0",
        "id": "e-2",
        "source": "/s",
        "type": "csp.reseller-tenant.upserted.v1",
        "time": "2026-01-10T09:00:00Z",
        "data": {
            "resellerTenantId": "t-1",
            "name": "n",
            "kind": "csp_indirect_reseller",
            "status": "active",
            "indirectResellerAuthorized": authorized,
            "country": "DE",
        },
    }


# A value of the wrong JSON type: the contract's JSON Schema refuses each, so a consumer must not
# quietly convert it ("5" -> 5, true -> 1, "yes" -> true, a number of seconds -> a UTC time).
WRONG_TYPES = {  # label -> (event, what the decoder made of the value)
    'quantity "5" (a string)': (_order(quantity="5"), lambda e: e.data.line_items[0].quantity),
    "quantity true (a boolean)": (_order(quantity=True), lambda e: e.data.line_items[0].quantity),
    "placedAt 1768035600 (a number)": (
        _order(placedAt=1_768_035_600),
        lambda e: e.data.placed_at.isoformat(),
    ),
    'indirectResellerAuthorized "yes"': (
        _tenant("yes"),
        lambda e: e.data.indirect_reseller_authorized,
    ),
    "indirectResellerAuthorized 1": (_tenant(1), lambda e: e.data.indirect_reseller_authorized),
    "envelope time 1768035600 (a number)": (
        {**_order(), "time": 1_768_035_600},
        lambda e: e.time.isoformat(),
    ),
}


def test_the_valid_samples_pass_the_schema_and_the_decoder():
    for event in (_order(), _tenant(True)):
        assert _schema_errors(event) == []
        decode(json.dumps(event).encode())


def test_decode_refuses_wrong_json_types_the_contract_schema_refuses():
    accepted = []
    for label, (event, made) in WRONG_TYPES.items():
        assert _schema_errors(event), (
            f"the premise: contracts/schemas/{event['type']}.json refuses {label}"
        )
        tried["n"] += 1
        try:
            decoded = decode(json.dumps(event).encode(), TOPIC_OF[event["type"]])
        except InvalidMessage:
            continue
        accepted.append(f"{label}: accepted as {made(decoded)!r}")
    assert not accepted, (
        "values the contract's JSON Schema refuses were accepted and converted instead of dead-lettered:\n  "
        + "\n  ".join(accepted)
    )


def test_count_fuzzed_inputs():
    """Runs last in this module: adds what the properties above tried to the run's figures."""
    tally(**{"bad inputs tried": tried["n"]})
