"""The Standard Webhooks convention, checked by the `standardwebhooks` package (an independent
implementation), and what the deliverer does with each answer."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from services.common.webhook_secret import WebhookSecretError, parse_webhook_secret
from services.notifier.delivery import Action, Outcome, delivery_outcome, next_step
from services.notifier.signing import (
    HEADER,
    ID_HEADER,
    WEBHOOK_ID,
    WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
    sign_standard,
    signed_headers,
    verify,
    verify_standard,
)
from services.notifier.webhook import body_of, signing_secrets
from services.settings import Settings

NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
OLD = "whsec_" + base64.b64encode(b"o" * 24).decode()
BODY = body_of({"notificationId": "ntf-1", "title": "注文がブロックされました", "codes": [900414]})


def headers(*secrets: str, msg_id: str = "ntf-1", body: bytes = BODY, t: int | None = None):
    parsed = [parse_webhook_secret(s) for s in secrets]
    return signed_headers(parsed, msg_id, body, int(time.time()) if t is None else t)


def test_every_header_of_the_convention_is_sent_and_verifies_with_standardwebhooks():
    h = headers(NEW)
    assert h[WEBHOOK_ID] == "ntf-1" and h[WEBHOOK_TIMESTAMP].isdigit()
    assert h[WEBHOOK_SIGNATURE].startswith("v1,") and " " not in h[WEBHOOK_SIGNATURE]
    assert standardwebhooks.Webhook(NEW).verify(BODY, h) == {
        "notificationId": "ntf-1",
        "title": "注文がブロックされました",
        "codes": [900414],
    }


def test_the_signature_matches_the_conventions_published_example():
    # The example of the Standard Webhooks specification (and of every reference library).
    key = parse_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").key
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign_standard(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_while_rotating_each_secret_verifies_on_its_own():
    h = headers(NEW, OLD)
    assert len(h[WEBHOOK_SIGNATURE].split(" ")) == 2
    for secret in (NEW, OLD):
        standardwebhooks.Webhook(secret).verify(BODY, h)
    # The deprecated header carries both too, keyed with the configured strings.
    assert verify(NEW.encode(), BODY, h[HEADER]) and verify(OLD.encode(), BODY, h[HEADER])
    stranger = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(stranger).verify(BODY, h)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b, h: (b.replace(b"900414", b"900415"), h), id="body changed"),
        pytest.param(lambda b, h: (b + b" ", h), id="body padded"),
        pytest.param(lambda b, h: (b, {**h, WEBHOOK_ID: "ntf-2"}), id="id changed"),
        pytest.param(
            lambda b, h: (b, {**h, WEBHOOK_TIMESTAMP: str(int(h[WEBHOOK_TIMESTAMP]) + 1)}),
            id="timestamp moved",
        ),
        pytest.param(
            lambda b, h: (b, {k: v for k, v in h.items() if k != WEBHOOK_TIMESTAMP}),
            id="timestamp missing",
        ),
        pytest.param(
            lambda b, h: (b, {k: v for k, v in h.items() if k != WEBHOOK_SIGNATURE}),
            id="signature missing",
        ),
        pytest.param(
            lambda b, h: (b, {**h, WEBHOOK_SIGNATURE: h[WEBHOOK_SIGNATURE].replace("v1,", "v2,")}),
            id="other version",
        ),
    ],
)
def test_a_tampered_delivery_is_rejected(tamper):
    body, h = tamper(BODY, headers(NEW))
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(NEW).verify(body, h)


@pytest.mark.parametrize("age_s", [-301, 301, 3600])
def test_a_timestamp_outside_five_minutes_is_rejected(age_s):
    # Re-signed for the old time: only the timestamp can make it fail.
    h = headers(NEW, t=int(time.time()) - age_s)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(NEW).verify(BODY, h)


@given(
    key=st.binary(min_size=1, max_size=64),
    msg_id=st.text(st.characters(codec="ascii", exclude_characters="\r\n"), min_size=1),
    payload=st.dictionaries(st.text(), st.text() | st.integers()),
)
def test_any_key_id_and_body_verify_with_standardwebhooks(key, msg_id, payload):
    secret = "whsec_" + base64.b64encode(key).decode()
    body = body_of(payload)
    h = headers(secret, msg_id=msg_id, body=body)
    standardwebhooks.Webhook(secret).verify(body, h)


def test_the_id_is_the_same_on_every_attempt_and_the_timestamp_is_each_attempts_own():
    first, retry = headers(NEW, t=1_767_000_000), headers(NEW, t=1_767_000_060)
    assert first[WEBHOOK_ID] == retry[WEBHOOK_ID] == first[ID_HEADER] == "ntf-1"
    assert first[WEBHOOK_TIMESTAMP] != retry[WEBHOOK_TIMESTAMP]
    assert first[WEBHOOK_SIGNATURE] != retry[WEBHOOK_SIGNATURE]


def test_porgate_devs_own_check_agrees_with_standardwebhooks():
    key = parse_webhook_secret(NEW).key
    h = headers(NEW)
    assert verify_standard(key, BODY, h)
    assert verify_standard(key, BODY, headers(OLD, NEW))  # any v1 value may match
    assert not verify_standard(key, BODY + b" ", h)
    assert not verify_standard(key, BODY, headers(OLD))
    assert not verify_standard(key, BODY, {**h, WEBHOOK_ID: "ntf-2"})
    assert not verify_standard(key, BODY, headers(NEW, t=int(time.time()) - 301))
    assert not verify_standard(key, BODY, {k: v for k, v in h.items() if k != WEBHOOK_TIMESTAMP})
    # A signature the package made verifies too.
    t = int(time.time())
    made = standardwebhooks.Webhook(NEW).sign(
        "ntf-1", datetime.fromtimestamp(t, UTC), BODY.decode()
    )
    assert verify_standard(
        key, BODY, {WEBHOOK_ID: "ntf-1", WEBHOOK_TIMESTAMP: str(t), WEBHOOK_SIGNATURE: made}
    )


# ----------------------------------------------------------------------------- secrets


def test_a_whsec_secret_signs_with_its_decoded_bytes_padded_or_not():
    assert parse_webhook_secret(NEW).key == b"n" * 32 and not parse_webhook_secret(NEW).legacy
    unpadded = "whsec_" + base64.b64encode(b"abcd").decode().rstrip("=")
    assert parse_webhook_secret(unpadded).key == b"abcd"


def test_a_legacy_secret_still_signs_both_headers_with_its_bytes():
    secret = parse_webhook_secret("local-dev-webhook-secret")
    assert secret.legacy and secret.key == secret.text == b"local-dev-webhook-secret"
    h = signed_headers([secret], "ntf-1", BODY, int(time.time()))
    assert verify(b"local-dev-webhook-secret", BODY, h[HEADER])
    standardwebhooks.Webhook(b"local-dev-webhook-secret").verify(BODY, h)


@pytest.mark.parametrize(
    "value", ["whsec_", "whsec_not base64!", "whsec_abc$", "whsec_a", "whsec_-_-_", "   "]
)
def test_a_secret_that_cannot_be_decoded_is_refused(value):
    with pytest.raises(WebhookSecretError):
        parse_webhook_secret(value)


@pytest.mark.parametrize("field", ["notify_webhook_secret", "notify_webhook_secret_previous"])
def test_settings_refuse_an_undecodable_secret_at_start_without_quoting_it(field, monkeypatch):
    monkeypatch.setenv(f"PORGATE_{field.upper()}", "whsec_s3cr3t!value")
    with pytest.raises(ValidationError) as failure:
        Settings()
    assert field in str(failure.value) and "s3cr3t" not in str(failure.value)


def test_the_deliverer_signs_with_the_current_secret_then_the_previous_one():
    s = Settings(
        notify_webhook_secret=SecretStr(NEW), notify_webhook_secret_previous=SecretStr(OLD)
    )
    assert [x.key for x in signing_secrets(s)] == [b"n" * 32, b"o" * 24]
    assert signing_secrets(Settings(notify_webhook_secret=SecretStr(NEW))) == [
        parse_webhook_secret(NEW)
    ]
    assert signing_secrets(Settings()) == []
    assert "nnnn" not in repr(signing_secrets(s))


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("status", "delivered", "retryable", "gone", "slow_down"),
    [
        (200, True, False, False, False),
        (204, True, False, False, False),
        (410, False, False, True, False),
        (429, False, True, False, True),
        (502, False, True, False, True),
        (504, False, True, False, True),
        (500, False, True, False, False),
        (503, False, True, False, False),
        (408, False, True, False, False),
        (404, False, False, False, False),
        (400, False, False, False, False),
    ],
)
def test_each_status_means_what_the_convention_says(status, delivered, retryable, gone, slow_down):
    o = delivery_outcome(status)
    assert (o.delivered, o.retryable, o.gone, o.slow_down) == (
        delivered,
        retryable,
        gone,
        slow_down,
    )


def step(outcome: Outcome, attempts: int = 1, backoff_s: float = 2.0):
    return next_step(
        outcome, attempts, max_attempts=10, backoff_s=backoff_s, retry_after_max_s=3600
    )


@pytest.mark.parametrize(
    ("outcome", "attempts", "action", "delay_s", "pause"),
    [
        (delivery_outcome(204), 1, Action.DELIVERED, 0.0, False),
        (delivery_outcome(410), 1, Action.DISABLE, 0.0, False),
        (delivery_outcome(410), 10, Action.DISABLE, 0.0, False),  # gone is never "failed"
        (delivery_outcome(500), 1, Action.RETRY, 2.0, False),
        (delivery_outcome(500), 10, Action.FAILED, 0.0, False),
        (delivery_outcome(404), 1, Action.FAILED, 0.0, False),
        (delivery_outcome(429), 1, Action.RETRY, 2.0, True),  # no Retry-After: the backoff
        (delivery_outcome(429, retry_after_s=30), 1, Action.RETRY, 30.0, True),
        (delivery_outcome(502, retry_after_s=0.5), 1, Action.RETRY, 2.0, True),  # never shorter
        (delivery_outcome(504, retry_after_s=86_400), 1, Action.RETRY, 3600.0, True),  # capped
        (delivery_outcome(503, retry_after_s=30), 1, Action.RETRY, 30.0, False),
        (delivery_outcome(429, retry_after_s=30), 10, Action.FAILED, 0.0, False),
    ],
)
def test_the_next_step_after_each_answer(outcome, attempts, action, delay_s, pause):
    got = step(outcome, attempts)
    assert (got.action, got.delay_s, got.pause_endpoint) == (action, delay_s, pause)
