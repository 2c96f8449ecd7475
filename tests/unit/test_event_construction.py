"""The faster paths (uuid5 by hand, cached envelope classes, encoding straight to bytes) give
exactly what the code they replaced gave: the same ids, the same models, the same bytes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from benchmarks.rules import registry_from_messages
from contracts.codec import decode, encode, new_event
from contracts.envelope import CloudEvent
from contracts.events import (
    ErrorDetail,
    PartnershipUpserted,
    SubscriptionChangeRequested,
    TransactionAccepted,
    TransactionBlocked,
    TransactionRef,
    ValidationLine,
)
from contracts.ids import NAMESPACE, decision_id_for, derived_event_id
from contracts.topics import EVENT_TYPES, ORDERS, VALIDATION_REQUESTS
from services.devtools.demo import DemoWorld
from services.domain import decisions
from services.domain.decisions import decide, exempt_decision, make_decision
from services.domain.por_rules import evaluate_por, union_codes
from services.domain.scope import DEFAULT_ENFORCEMENT_START
from services.order_intake.intake import validation_request
from services.subscription_change.classify import classify
from services.subscription_change.classify import validation_request as change_request

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORLD = DemoWorld(resellers=60, seed=11)
REGISTRY = registry_from_messages(WORLD.registry())
START = DEFAULT_ENFORCEMENT_START
DECIDED_AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


# ----------------------------------------------------------------- the code as it was


def old_new_event(data, *, source, id=None, subject=None, time=None):
    return CloudEvent[type(data)](
        id=id or str(uuid.uuid4()),
        source=source,
        type=EVENT_TYPES[type(data)],
        time=time or datetime.now(UTC),
        subject=subject,
        data=data,
    )


def old_encode(event) -> bytes:
    return event.model_dump_json(by_alias=True).encode()


def old_make_decision(request, *, basis, lines, decided_at):
    codes = [int(c) for c in union_codes([line.error_codes for line in lines])]
    model = TransactionBlocked if codes else TransactionAccepted
    return model(
        **{name: getattr(request, name) for name in TransactionRef.model_fields},
        decision_id=str(
            uuid.uuid5(
                NAMESPACE,
                f"decision:{request.source_event_id}"
                + (
                    f":supersedes:{request.supersedes_decision_id}"
                    if request.supersedes_decision_id
                    else ""
                ),
            )
        ),
        basis=basis,
        error_codes=codes,
        primary_error_code=codes[0] if codes else None,
        lines=lines,
        decided_at=decided_at,
        authority="registry",
        registry_drift=False,
    )


def old_decide(request, registry, *, enforcement_start, decided_at):
    basis = decisions.request_basis(request, enforcement_start)
    lines = [
        decisions.decision_line(
            line.line_item_id,
            line.partner_id_on_record,
            evaluate_por(line.partner_id_on_record, request.distributor_id, registry)
            if basis == "validated"
            else (),
        )
        for line in request.lines
    ]
    return old_make_decision(request, basis=basis, lines=lines, decided_at=decided_at)


def old_exempt_decision(request, basis, decided_at):
    lines = [
        decisions.decision_line(line.line_item_id, line.partner_id_on_record, ())
        for line in request.lines
    ]
    return old_make_decision(request, basis=basis, lines=lines, decided_at=decided_at)


# ----------------------------------------------------------------------------- checks


def assert_same_model(new: BaseModel, old: BaseModel) -> None:
    """Same class, values, field order, set fields and extras, all the way down; same JSON."""
    assert type(new) is type(old)
    assert list(new.__dict__) == list(old.__dict__)
    assert new.model_fields_set == old.model_fields_set
    assert new.__pydantic_extra__ == old.__pydantic_extra__
    assert new.__pydantic_private__ == old.__pydantic_private__
    assert new == old
    assert new.model_dump_json(by_alias=True) == old.model_dump_json(by_alias=True)
    assert new.model_dump() == old.model_dump()
    for name, value in new.__dict__.items():
        other = old.__dict__[name]
        assert type(value) is type(other), name
        if isinstance(value, BaseModel):
            assert_same_model(value, other)
        elif isinstance(value, list):
            assert len(value) == len(other)
            for a, b in zip(value, other, strict=True):
                assert type(a) is type(b)
                if isinstance(a, BaseModel):
                    assert_same_model(a, b)


def assert_same_event(new: CloudEvent, old: CloudEvent) -> None:
    assert_same_model(new, old)
    assert encode(new) == old_encode(old) == old_encode(new) == encode(old)


def check_order(raw: bytes, decided_at: datetime = DECIDED_AT) -> None:
    event = decode(raw, ORDERS.name)
    new_req = old_req = validation_request(event.data, event.id)

    rid = derived_event_id("validation-request", event.id)
    time = datetime(2026, 2, 1, 8, tzinfo=UTC)
    kw = {
        "source": "/porgate/order-intake",
        "id": rid,
        "subject": event.data.order_id,
        "time": time,
    }
    assert_same_event(new_event(new_req, **kw), old_new_event(old_req, **kw))

    # por-validator decides the request as it arrives: decoded, extras and all.
    wire = decode(encode(new_event(new_req, **kw)), VALIDATION_REQUESTS.name).data
    for req in (wire, new_req):
        new_d = decide(req, REGISTRY, enforcement_start=START, decided_at=decided_at)
        old_d = old_decide(req, REGISTRY, enforcement_start=START, decided_at=decided_at)
        assert_same_model(new_d, old_d)
        dkw = {
            "source": "/porgate/por-validator",
            "id": derived_event_id("decision-event", new_d.decision_id),
            "subject": req.order_id,
            "time": new_d.decided_at,
        }
        assert_same_event(new_event(new_d, **dkw), old_new_event(old_d, **dkw))


# ---------------------------------------------------------------------------- uuid5

names = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)


@SETTINGS
@given(name=names, parts=st.lists(names, max_size=3), supersedes=st.none() | names)
def test_ids_equal_uuid5(name, parts, supersedes):
    assert derived_event_id(name, *parts) == str(uuid.uuid5(NAMESPACE, ":".join((name, *parts))))
    expected = f"decision:{name}" + (f":supersedes:{supersedes}" if supersedes else "")
    assert decision_id_for(name, supersedes) == str(uuid.uuid5(NAMESPACE, expected))


@pytest.mark.parametrize("name", ["", "évènement", "注文-1", "🧾" * 40, "a\x00b", "x" * 10_000])
def test_ids_equal_uuid5_examples(name):
    assert derived_event_id("k", name) == str(uuid.uuid5(NAMESPACE, f"k:{name}"))
    assert decision_id_for(name) == str(uuid.uuid5(NAMESPACE, f"decision:{name}"))


def test_lone_surrogate_fails_as_uuid5_does():
    with pytest.raises(UnicodeEncodeError):
        uuid.uuid5(NAMESPACE, "\ud800")
    with pytest.raises(UnicodeEncodeError):
        derived_event_id("k", "\ud800")


# -------------------------------------------------------------- orders and decisions


def test_demo_orders_same_bytes():
    """The benchmark's mix: valid, inactive, suspended, PGA, malformed and missing ids, 1-5 lines."""
    orders = [WORLD.order(now=DECIDED_AT - timedelta(days=d % 3)) for d in range(400)]
    assert any(len(decode(m.value).data.line_items) > 1 for m in orders)
    assert any(
        li.partner_id_on_record is None for m in orders for li in decode(m.value).data.line_items
    )
    for m in orders:
        check_order(m.value)


text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=12
)
extras = st.dictionaries(
    text.map(lambda k: f"x-{k}"),
    st.none()
    | st.integers()
    | st.floats(allow_nan=False)
    | text
    | st.lists(st.integers(), max_size=2),
    max_size=3,
)
known_pids = [
    p
    for m in WORLD.registry()
    if (d := json.loads(m.value)["data"]).get("partnerId")
    for p in [d["partnerId"]]
]
pids = (
    st.none() | st.sampled_from(known_pids) | text | st.sampled_from([" 1000001 ", "100-0001", ""])
)
offsets = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=9)),
        timezone(timedelta(hours=-3, minutes=-30)),
        ZoneInfo("Europe/Paris"),
    ]
)
times = st.builds(
    lambda base, tz: (START + base).astimezone(tz),
    st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)),
    offsets,
)


@st.composite
def order_messages(draw) -> bytes:
    lines = [
        {
            "lineItemId": draw(text),
            "offerId": draw(text),
            "quantity": draw(st.integers(1, 10**6)),
            **(
                {"partnerIdOnRecord": pid}
                if (pid := draw(pids)) is not None or draw(st.booleans())
                else {}
            ),
            **draw(extras),
        }
        for _ in range(draw(st.integers(1, 6)))
    ]
    data = {
        "orderId": draw(text),
        "distributorId": draw(st.sampled_from(sorted(REGISTRY.distributors)) | text),
        "customerId": draw(text),
        "placedAt": draw(times).isoformat(),
        "lineItems": lines,
        **draw(extras),
    }
    envelope = {
        "specversion": "1.0",
        "id": draw(text),
        "source": "/upstream",
        "type": "csp.order.placed.v1",
        "time": "2026-01-01T00:00:00Z",
        "data": data,
        **draw(extras),
    }
    return json.dumps(envelope).encode()


@SETTINGS
@given(raw=order_messages(), decided_at=times)
def test_arbitrary_orders_same_bytes(raw, decided_at):
    check_order(raw, decided_at)


def test_order_extras_stay_with_the_order():
    """The contract keeps unknown fields on the event they came with; the request is a new
    event, built from named fields only, as it always was."""
    lines = [
        {"lineItemId": "1", "offerId": "x", "quantity": 2, "lineExtra": "y"},
        {"lineItemId": "2", "offerId": "x", "quantity": 1, "partnerIdOnRecord": None},
    ]
    raw = json.dumps(
        {
            "specversion": "1.0",
            "id": "e-1",
            "source": "/s",
            "type": "csp.order.placed.v1",
            "time": "2026-01-01T00:00:00Z",
            "xEnvelope": True,
            "data": {
                "orderId": "o",
                "distributorId": "d",
                "customerId": "c",
                "placedAt": "2026-01-01T00:00:00+09:00",
                "newField": 1,
                "lineItems": lines,
            },
        }
    ).encode()
    event = decode(raw, ORDERS.name)
    assert event.data.model_extra == {"newField": 1}
    req = validation_request(event.data, event.id)
    assert req.model_extra == {} and all(line.model_extra == {} for line in req.lines)
    raw_request = encode(new_event(req, source="/x"))
    assert (
        b"newField" not in raw_request
        and b"lineExtra" not in raw_request
        and b"xEnvelope" not in raw_request
    )
    check_order(raw)


changes = st.builds(
    lambda kind, requested_at, pid, set_at: SubscriptionChangeRequested(
        change_id="ch-1",
        subscription_id="sub-1",
        distributor_id="d",
        customer_id="c",
        kind=kind,
        requested_at=requested_at,
        partner_id_on_record=pid,
        scheduled_change_set_at=set_at,
        details={"q": 1},
    ),
    st.sampled_from(
        ["renewal", "scheduled_change_execution", "p2p_transfer", "quantity_increase", "weird"]
    ),
    times,
    pids,
    st.none() | times,
)


@SETTINGS
@given(change=changes, now=times, supersedes=st.none() | text)
def test_subscription_changes_same_bytes(change, now, supersedes):
    basis, result = classify(change, "evt-c", START, now)
    request = result if basis == "validated" else None
    if request is None:
        request = change_request(change, "evt-c")
        assert_same_model(result, old_exempt_decision(request, basis, now))
        assert_same_event(
            new_event(result, source="/s", id="i", time=now),
            old_new_event(old_exempt_decision(request, basis, now), source="/s", id="i", time=now),
        )
    request = request.model_copy(update={"supersedes_decision_id": supersedes})  # a re-validation
    assert_same_model(
        decide(request, REGISTRY, enforcement_start=START, decided_at=now),
        old_decide(request, REGISTRY, enforcement_start=START, decided_at=now),
    )


# ------------------------------------------------------- inputs the fast paths refuse


PARTNERSHIP = PartnershipUpserted(distributor_id="d", reseller_tenant_id="t", status="active")


class Text(str):
    pass


class Moment(datetime):
    pass


@pytest.mark.parametrize(
    "kw",
    [
        {"source": ""},
        {"source": "s" * 1025},
        {"source": "s" * 1024},
        {"source": Text("/sub-classed")},
        {"source": 5},
        {"source": "/s", "id": "i" * 257},
        {"source": "/s", "id": "i" * 256},
        {"source": "/s", "id": Text("i")},
        {"source": "/s", "subject": 7},
        {"source": "/s", "subject": Text("k")},
        {"source": "/s", "time": datetime(2026, 1, 1)},
        {"source": "/s", "time": datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo"))},
        {"source": "/s", "time": Moment(2026, 1, 1, tzinfo=UTC)},
        {"source": "/s", "time": "2026-01-01T00:00:00Z"},
    ],
)
def test_new_event_odd_arguments_behave_as_before(kw):
    kw = {"id": "i", "time": DECIDED_AT, **kw}
    try:
        old = old_new_event(PARTNERSHIP, **kw)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            new_event(PARTNERSHIP, **kw)
        assert got.value.errors() == exc.errors()
    else:
        new = new_event(PARTNERSHIP, **kw)
        assert encode(new) == old_encode(old)
        assert new == old and new.model_fields_set == old.model_fields_set


def test_new_event_defaults_and_unknown_models():
    before = datetime.now(UTC)
    e = new_event(PARTNERSHIP, source="/s")
    assert uuid.UUID(e.id).version == 4 and e.time.tzinfo is UTC and before <= e.time
    assert e.specversion == "1.0" and e.datacontenttype == "application/json" and e.subject is None
    assert new_event(PARTNERSHIP, source="/s", id="").id != ""  # empty id: a fresh one, as before
    assert decode(encode(e)).data == PARTNERSHIP
    with pytest.raises(KeyError):
        new_event(ErrorDetail(code=1, message="m", remediation=[]), source="/s")
    with pytest.raises(KeyError):
        new_event(ValidationLine(line_item_id="1"), source="/s")


@pytest.mark.parametrize(
    "decided_at",
    [
        datetime(2026, 1, 1),
        "2026-01-01T00:00:00Z",
        Moment(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Paris")),
    ],
)
def test_make_decision_odd_times_behave_as_before(decided_at):
    req = validation_request(decode(WORLD.order().value).data, "e")
    lines = [decisions.decision_line("1", "p", ())]
    try:
        old = old_make_decision(req, basis="validated", lines=lines, decided_at=decided_at)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            make_decision(req, basis="validated", lines=lines, decided_at=decided_at)
        assert got.value.errors() == exc.errors()
    else:
        assert_same_model(
            make_decision(req, basis="validated", lines=lines, decided_at=decided_at), old
        )


def test_only_validated_decisions_block():
    req = validation_request(decode(WORLD.order().value).data, "e")
    lines = [decisions.decision_line("1", None, [800016])]
    for make in (old_make_decision, make_decision):
        with pytest.raises(ValidationError):
            make(req, basis="not_in_scope", lines=lines, decided_at=DECIDED_AT)
        with pytest.raises(ValidationError):
            make(req, basis="made-up", lines=[], decided_at=DECIDED_AT)
    assert_same_model(
        make_decision(req, basis="validated", lines=lines, decided_at=DECIDED_AT),
        old_make_decision(req, basis="validated", lines=lines, decided_at=DECIDED_AT),
    )
    assert_same_model(
        exempt_decision(req, "exempt_renewal", DECIDED_AT),
        old_exempt_decision(req, "exempt_renewal", DECIDED_AT),
    )
