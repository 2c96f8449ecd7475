"""Models built without validating their values again (contracts/trusted.py) are exactly what
validation builds: on the demo world's events, on generated orders, and on decisions by
Partner Center's answers, in observe mode and with explanations; and the builders refuse
what they cannot build that way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, field_validator

from benchmarks.rules import registry_from_messages
from contracts.codec import _ENVELOPES, decode, encode, encode_data, encode_with_data, new_event
from contracts.events import (
    DecisionLine,
    OrderPlaced,
    TransactionAccepted,
    TransactionBlocked,
    ValidationLine,
    ValidationRequested,
)
from contracts.ids import derived_event_id
from contracts.topics import EVENT_MODELS, ORDERS, VALIDATION_REQUESTS
from contracts.trusted import trusted, trusted_builder
from services.domain.authority import Answer
from services.domain.decisions import decide
from services.domain.explain import Provenance, explain, to_wire, wire_walk
from services.domain.por_rules import Distributor
from services.order_intake.intake import validation_request
from tests.unit.test_event_construction import (
    DECIDED_AT,
    REGISTRY,
    SETTINGS,
    START,
    WORLD,
    assert_same_model,
    order_messages,
    times,
)
from tests.unit.test_por_rules import DIST, TEXT, registries


def revalidated(model: BaseModel) -> BaseModel:
    """The same model as validation builds it from the same values, all the way down."""
    return type(model).model_validate(model.model_dump(exclude_unset=True))


def old_validation_request(order: OrderPlaced, source_event_id: str) -> ValidationRequested:
    return ValidationRequested(
        source_event_id=source_event_id,
        transaction_kind="new_order",
        order_id=order.order_id,
        distributor_id=order.distributor_id,
        customer_id=order.customer_id,
        requested_at=order.placed_at,
        lines=[
            ValidationLine(
                line_item_id=li.line_item_id, partner_id_on_record=li.partner_id_on_record
            )
            for li in order.line_items
        ],
    )


# ------------------------------------------------------------------------ the builders


WIRE_MODELS = sorted(
    {*EVENT_MODELS.values(), *_ENVELOPES.values(), DecisionLine, ValidationLine},
    key=lambda m: m.__name__,
)


@pytest.mark.parametrize("model", WIRE_MODELS, ids=lambda m: m.__name__)
def test_every_wire_model_and_envelope_has_a_builder(model):
    assert trusted_builder(model) is trusted_builder(model)


def test_the_demo_worlds_events_built_from_their_fields_are_the_decoded_ones():
    messages = [*WORLD.registry(), *(WORLD.order() for _ in range(50))]
    for m in messages:
        event = decode(m.value)
        for model in (event, event.data):
            fields = {name: model.__dict__[name] for name in model.model_fields_set}
            assert_same_model(trusted(type(model), **fields), model)


@SETTINGS
@given(raw=order_messages())
def test_a_generated_orders_request_is_the_validated_one(raw):
    event = decode(raw, ORDERS.name)
    request = validation_request(event.data, event.id)
    assert_same_model(request, old_validation_request(event.data, event.id))
    assert_same_model(request, revalidated(request))


def test_a_builder_refuses_unknown_and_missing_fields():
    with pytest.raises(TypeError, match="unexpected keyword"):
        trusted(ValidationLine, line_item_id="1", partnerIdOnRecord="1000001")
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument"):
        trusted(ValidationLine, partner_id_on_record="1000001")


def test_a_builder_refuses_models_that_validate_beyond_their_fields():
    class Checked(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, v: str) -> str:
            return v.upper()

    class MutableDefault(BaseModel):
        tags: list[str] = []

    class ValidatedDefault(BaseModel):
        n: int = Field(default=1, validate_default=True)

    for model in (Checked, MutableDefault, ValidatedDefault):
        with pytest.raises(TypeError):
            trusted_builder(model)


def test_defaults_and_factories_are_fresh_and_unset():
    class Model(BaseModel):
        name: str
        tags: list[str] = Field(default_factory=list)
        note: str | None = None

    a, b = trusted(Model, name="x"), trusted(Model, name="y", note=None)
    assert a.tags == [] and a.tags is not b.tags
    assert a.model_fields_set == {"name"} and b.model_fields_set == {"name", "note"}
    assert_same_model(a, Model(name="x"))
    assert_same_model(b, Model(name="y", note=None))


# -------------------------------------------------------------------------- decisions


PLA_IDS = sorted(REGISTRY.accounts)
codes = st.sampled_from([900151, 900400, 900154, 900414, 900152, 999999])
answers = st.builds(
    lambda valid, code, description: (valid, code, description),
    st.booleans(),
    st.none() | codes,
    st.none() | st.text(max_size=20),
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=9))])


@SETTINGS
@given(
    order=st.integers(0, 399),
    mode=st.sampled_from(["enforce", "observe"]),
    distributor_mode=st.sampled_from([None, "enforce", "observe"]),
    answered=st.none() | st.dictionaries(st.sampled_from(PLA_IDS), answers, max_size=8),
    explain=st.booleans(),
    decided_at=times,
    zone=zones,
)
def test_decisions_built_without_validation_are_what_validation_builds(
    order, mode, distributor_mode, answered, explain, decided_at, zone
):
    raw = ORDERS_400[order]
    event = decode(raw, ORDERS.name)
    wire = encode(
        new_event(
            validation_request(event.data, event.id),
            source="/porgate/order-intake",
            id=derived_event_id("validation-request", event.id),
        )
    )
    request = decode(wire, VALIDATION_REQUESTS.name).data
    registry = registry_from_messages(WORLD.registry())
    if (d := registry.distributors.get(request.distributor_id)) is not None:
        registry.distributors[d.distributor_id] = Distributor(
            d.distributor_id, d.region, d.language, distributor_mode
        )
    by_pid = (
        None
        if answered is None
        else {pid: Answer(pid, valid, code, text) for pid, (valid, code, text) in answered.items()}
    )
    provenance = (
        {("partnerAccount", pid): Provenance(decided_at, f"evt-{pid}") for pid in PLA_IDS[:20]}
        if explain
        else None
    )
    decision = decide(
        request,
        registry,
        enforcement_start=START,
        decided_at=decided_at.astimezone(zone),
        mode=mode,
        answers=by_pid,
        provenance=provenance,
    )
    assert type(decision) in (TransactionAccepted, TransactionBlocked)
    assert_same_model(decision, revalidated(decision))
    event = new_event(decision, source="/s", id="i", time=DECIDED_AT)
    dumped = json.loads(encode(event))
    assert dumped["data"] == json.loads(revalidated(decision).model_dump_json(by_alias=True))
    # Serialized once for the decision's row and its event: the same bytes as each alone.
    data = encode_data(decision)
    assert data.decode() == decision.model_dump_json(by_alias=True)
    assert encode_with_data(event, data) == encode(event)


def test_an_envelope_with_extras_is_encoded_whole():
    event = decode(ORDERS_400[0])
    event.__pydantic_extra__["xTrace"] = {"data": 1}
    assert encode_with_data(event, encode_data(event.data)) == encode(event)
    assert encode(event).endswith(b',"xTrace":{"data":1}}')


ORDERS_400 = [WORLD.order(now=DECIDED_AT - timedelta(days=d % 3)).value for d in range(400)]


def test_the_benchmarks_orders_include_blocked_and_accepted_lines():
    decided = [
        decide(
            validation_request(decode(raw).data, "e"),
            REGISTRY,
            enforcement_start=START,
            decided_at=datetime.now(UTC),
        )
        for raw in ORDERS_400
    ]
    assert {d.outcome for d in decided} == {"accepted", "blocked"}


# ------------------------------------------------------------------------------ walks


AT = datetime(2026, 1, 10, 9, tzinfo=UTC)


@SETTINGS
@given(registries(), TEXT, st.data())
def test_a_blocked_lines_walk_is_its_explanations_wire_form(reg_ids, extra, data):
    reg, ids = reg_ids
    tenants = sorted(reg.tenants)
    provenance = {
        # Another zone than UTC's: validated, as before.
        ("distributor", DIST): Provenance(
            data.draw(st.sampled_from([AT, AT.astimezone(timezone(timedelta(hours=9)))])),
            data.draw(st.none() | TEXT),
        ),
        **{("partnership", DIST, t): Provenance(AT, f"evt-{t}") for t in tenants},
        **{("partnership", "dist-other", t): Provenance(AT, "evt-other") for t in tenants},
        **{("partnerAccount", pid): Provenance(AT, f"evt-{pid}") for pid in ids},
        **{
            ("resellerTenant", t): Provenance(
                AT.astimezone(timezone(timedelta(hours=9))), "evt-tenant"
            )
            for t in tenants
        },
    }
    for pid in [*ids, extra, None, 1234567, *(f" {i} " for i in ids)]:
        for did in (DIST, "dist-unknown"):
            for given_provenance in (None, {}, provenance):
                walk = wire_walk(pid, did, reg, given_provenance)
                expected = to_wire(explain(pid, did, reg, given_provenance))
                assert len(walk) == len(expected)
                for got, want in zip(walk, expected, strict=True):
                    assert_same_model(got, want)
                    assert_same_model(got, revalidated(got))
