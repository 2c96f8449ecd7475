"""The wire contract: examples parse, schemas match the models, extras are kept, errors are clear."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from contracts import events as ev
from contracts.codec import InvalidMessage, decode, encode, new_event
from contracts.schema import SCHEMA_DIR, event_schema, rendered_schemas
from contracts.topics import ALL_TOPICS, EVENT_MODELS

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
# The contract as the other teams agreed it, then what porgate added within v1.
AGREED, ADDITIONS = DOCUMENT.read_text().split("\n## Added within v1\n")

# The agreed examples, written out here too: a change to the document must be a change here.
ORDER = {
    "orderId": "ord-1001",
    "distributorId": "dist-eu-1",
    "customerId": "cust-42",
    "placedAt": "2026-01-10T09:00:00Z",
    "lineItems": [
        {
            "lineItemId": "1",
            "offerId": "CFQ7TTC0LH18:0001",
            "quantity": 5,
            "billingPlan": "monthly",
            "termDuration": "P1Y",
            "partnerIdOnRecord": "1234567",
        }
    ],
}
CHANGE = {
    "changeId": "chg-9",
    "subscriptionId": "sub-1",
    "distributorId": "dist-eu-1",
    "customerId": "cust-42",
    "kind": "seat_count",
    "requestedAt": "2026-02-01T10:00:00Z",
    "partnerIdOnRecord": "1234567",
    "scheduledChangeSetAt": None,
    "details": {"quantity": 8},
}
DECISION = {
    "decisionId": "...",
    "sourceEventId": "<id of the order or change event>",
    "transactionKind": "new_order",
    "orderId": "ord-1001",
    "changeId": None,
    "subscriptionId": None,
    "changeKind": None,
    "distributorId": "dist-eu-1",
    "customerId": "cust-42",
    "outcome": "blocked",
    "basis": "validated",
    "errorCodes": [900414, 900152],
    "primaryErrorCode": 900414,
    "lines": [
        {
            "lineItemId": "1",
            "partnerIdOnRecord": "1234567",
            "errorCodes": [900414, 900152],
            "errors": [
                {"code": 900414, "message": "...", "remediation": ["..."]},
                {"code": 900152, "message": "...", "remediation": ["..."]},
            ],
        }
    ],
    "decidedAt": "2026-01-10T09:00:00.120Z",
}
REVOKED = {
    "relationshipId": "rel-7",
    "customerId": "cust-42",
    "resellerTenantId": "ten-5",
    "reason": "reseller_suspended",
    "causeEventId": "...",
    "revokedAt": "2026-01-10T09:00:00Z",
}

EXAMPLES = [
    ("csp.order.placed.v1", ORDER),
    ("csp.subscription.change-requested.v1", CHANGE),
    ("por.transaction.blocked.v1", DECISION),
    ("gdap.privileges.revoked.v1", REVOKED),
]


def envelope(event_type: str, data: dict, **extra) -> dict:
    return {
        "specversion": "1.0",
        "id": "6f1c",
        "source": "/commerce/eu-shop",
        "type": event_type,
        "time": "2026-01-10T09:00:00Z",
        "subject": "ord-1001",
        "datacontenttype": "application/json",
        "data": data,
        **extra,
    }


@pytest.mark.parametrize(("event_type", "data"), EXAMPLES)
def test_contract_examples_parse_and_match_the_exported_schema(event_type, data):
    env = envelope(event_type, data)
    event = decode(json.dumps(env).encode())
    assert isinstance(event.data, EVENT_MODELS[event_type])
    jsonschema.validate(env, json.loads((SCHEMA_DIR / f"{event_type}.json").read_text()))
    # Round trip: what we write is what the contract shows.
    assert json.loads(encode(event))["data"] == {
        **{k: v for k, v in data.items()},
        **json.loads(encode(event))["data"],
    }


def test_every_parseable_example_in_the_contract_document_is_one_of_ours():
    blocks = re.findall(r"```json\n(.*?)```", AGREED, re.DOTALL)
    parsed = []
    for block in blocks:
        try:
            parsed.append(json.loads(block))
        except ValueError:
            continue  # the envelope sketch has "{...}" placeholders
    assert len(parsed) >= 4
    ours = [d for _, d in EXAMPLES]
    for doc in parsed:
        if "revokedAt" in doc and doc["revokedAt"] == "...":
            doc = {**doc, "revokedAt": REVOKED["revokedAt"]}
        assert doc in ours


# A registry example names its event type on the line before its block.
_TYPED_BLOCK = re.compile(r"`([a-z.-]+\.v1)`\n```json\n(.*?)```", re.DOTALL)


def test_the_registry_examples_of_porgates_additions_parse_as_declared_fields():
    typed = _TYPED_BLOCK.findall(ADDITIONS)
    assert {t for t, _ in typed} == {
        "csp.distributor.upserted.v1",
        "csp.partner-account.upserted.v1",
    }
    for event_type, block in typed:
        data = json.loads(block)
        env = envelope(event_type, data)
        event = decode(json.dumps(env).encode(), "csp.partner-registry.v1")
        jsonschema.validate(env, json.loads((SCHEMA_DIR / f"{event_type}.json").read_text()))
        assert not event.data.__pydantic_extra__


def test_a_partnership_request_url_must_be_https():
    data = {"distributorId": "d", "name": "D", "country": "JP"}
    for bad in ("javascript:alert(1)", "http://example.com/x", "https://a b"):
        env = envelope("csp.distributor.upserted.v1", {**data, "partnershipRequestUrl": bad})
        with pytest.raises(InvalidMessage):
            decode(json.dumps(env).encode(), "csp.partner-registry.v1")


def test_the_examples_of_porgates_additions_parse_with_every_added_field():
    text = _TYPED_BLOCK.sub("", ADDITIONS)
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]
    assert blocks
    for data in blocks:
        event_type = f"por.transaction.{data['outcome']}.v1"
        env = envelope(event_type, data)
        event = decode(json.dumps(env).encode())
        jsonschema.validate(env, json.loads((SCHEMA_DIR / f"{event_type}.json").read_text()))
        # Each addition is a declared field, not an extra the model merely keeps.
        assert not event.data.__pydantic_extra__
        assert not any(line.__pydantic_extra__ for line in event.data.lines)
        assert not any(
            step.__pydantic_extra__ or any(f.__pydantic_extra__ for f in step.facts)
            for line in event.data.lines
            for step in line.explanation or ()
        )
        assert (event.data.authority, event.data.registry_drift) == (
            data["authority"],
            data["registryDrift"],
        )


def test_registry_upserts_parse():
    samples = {
        "csp.distributor.upserted.v1": {
            "distributorId": "d",
            "name": "D",
            "country": "JP",
            "preferredLanguage": "ja",
        },
        "csp.partner-account.upserted.v1": {
            "partnerId": "1234567",
            "accountType": "PLA",
            "status": "active",
            "name": "R",
            "resellerTenantId": "t",
        },
        "csp.reseller-tenant.upserted.v1": {
            "resellerTenantId": "t",
            "name": "T",
            "kind": "direct_bill",
            "status": "suspended",
            "indirectResellerAuthorized": False,
            "country": "DE",
            "cspRegion": "Europe",
        },
        "csp.partnership.upserted.v1": {
            "distributorId": "d",
            "resellerTenantId": "t",
            "status": "removed",
        },
        "csp.customer-assignment.upserted.v1": {
            "customerId": "c",
            "resellerTenantId": "t",
            "distributorId": "d",
            "status": "removed",
        },
        "csp.gdap-relationship.upserted.v1": {
            "relationshipId": "r",
            "customerId": "c",
            "resellerTenantId": "t",
            "roles": ["Helpdesk Agent"],
            "status": "terminationRequested",
        },
    }
    for event_type, data in samples.items():
        env = envelope(event_type, data)
        assert (
            type(decode(json.dumps(env).encode(), "csp.partner-registry.v1").data)
            is EVENT_MODELS[event_type]
        )
        jsonschema.validate(env, event_schema(event_type))


def test_unknown_fields_are_kept_not_rejected():
    env = envelope("csp.order.placed.v1", {**ORDER, "futureField": {"x": 1}}, traceparent="00-abc")
    event = decode(json.dumps(env).encode())
    out = json.loads(encode(event))
    assert out["data"]["futureField"] == {"x": 1}
    assert out["traceparent"] == "00-abc"


def test_missing_partner_id_is_not_malformed():
    data = {
        **ORDER,
        "lineItems": [
            {"lineItemId": "1", "offerId": "o", "quantity": 1, "partnerIdOnRecord": None}
        ],
    }
    assert (
        decode(json.dumps(envelope("csp.order.placed.v1", data)).encode())
        .data.line_items[0]
        .partner_id_on_record
        is None
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (json.dumps({"id": "x"}).encode(), "envelope"),
        (json.dumps(envelope("csp.nope.v1", {})).encode(), "unknown event type"),
        (
            json.dumps(
                envelope("csp.order.placed.v1", {**ORDER, "placedAt": "2026-01-10T09:00:00"})
            ).encode(),
            "timezone",
        ),
        (
            json.dumps(envelope("csp.order.placed.v1", {**ORDER, "lineItems": "x"})).encode(),
            "lineItems",
        ),
        (b"[" * 100000, "nested"),
        (
            json.dumps(envelope("csp.order.placed.v1", {**ORDER, "orderId": "a\u0000b"})).encode(),
            "NUL",
        ),
        (b"x" * (1024 * 1024 + 1), "exceeds"),
        (None, "tombstone"),
    ],
)
def test_bad_input_has_a_clear_reason(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        decode(raw)


def test_event_type_must_belong_to_its_topic():
    with pytest.raises(InvalidMessage, match="does not belong"):
        decode(
            json.dumps(envelope("csp.order.placed.v1", ORDER)).encode(),
            "csp.subscription-changes.v1",
        )


def test_committed_schemas_match_the_models():
    rendered = rendered_schemas()
    committed = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert set(committed) == set(rendered), "run `porgate contracts export`"
    for name, text in rendered.items():
        assert committed[name] == text, (
            f"{name} drifted from the models: run `porgate contracts export`"
        )


def test_every_event_type_has_a_topic_and_a_model():
    on_topics = {t for topic in ALL_TOPICS for t in topic.event_types}
    assert on_topics == set(EVENT_MODELS)


def test_new_event_names_the_type_of_its_model():
    e = new_event(
        ev.PartnershipUpserted(distributor_id="d", reseller_tenant_id="t", status="active"),
        source="/x",
    )
    assert e.type == "csp.partnership.upserted.v1"
    assert decode(encode(e)).data == e.data
