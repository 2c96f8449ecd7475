"""Partner Center's webhook signature (services/partner_center/event_signature.py) and its
events (events.py): what is accepted as Partner Center's, and what an event names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.partner_center import event_signature as sig
from services.partner_center.event_signer import (
    EventSigner,
    customer_accepted_event,
    relationship_event,
    signing_certificate,
)
from services.partner_center.events import PartnerCenterEvent

ORG = "Microsoft Corporation"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def signer() -> EventSigner:
    s = EventSigner()
    s.certificate_url = "https://3psostorageacct.blob.core.windows.net/cert/pc.cer"
    return s


def check(signer: EventSigner, body: bytes, headers: dict[str, str], cert=None) -> None:
    signed = sig.signed_request({k.lower(): v for k, v in headers.items()})
    sig.verify(body, signed.signature, cert or signer.certificate, now=NOW, organization=ORG)


def test_a_body_partner_center_signed_verifies(signer):
    body = relationship_event("terminated", "rel-1")
    check(signer, body, signer.headers(body))


def test_the_signature_may_come_in_x_ms_signature_instead(signer):
    body = relationship_event("terminated", "rel-1")
    headers = signer.headers(body)
    headers["x-ms-signature"] = headers.pop("Authorization").removeprefix("Signature ")
    check(signer, body, headers)


def test_a_changed_body_or_another_key_is_forged(signer):
    body = relationship_event("terminated", "rel-1")
    headers = signer.headers(body)
    with pytest.raises(sig.Rejected, match="does not match"):
        check(signer, body.replace(b"rel-1", b"rel-2"), headers)
    other = EventSigner()
    other.certificate_url = signer.certificate_url
    with pytest.raises(sig.Rejected, match="does not match"):
        check(signer, body, other.headers(body))


@pytest.mark.parametrize(
    "certificate, why",
    [
        (
            {"valid_until": NOW - timedelta(minutes=1), "valid_from": NOW - timedelta(days=9)},
            "valid",
        ),
        ({"valid_from": NOW + timedelta(hours=1)}, "valid"),
        ({"organization": "Contoso Ltd"}, "Organization"),
    ],
)
def test_a_certificate_out_of_its_validity_or_not_microsofts_is_refused(signer, certificate, why):
    cert = signing_certificate(signer.key, **certificate)
    body = relationship_event("terminated", "rel-1")
    with pytest.raises(sig.Rejected, match=why):
        check(signer, body, signer.headers(body), cert)


@pytest.mark.parametrize(
    "change, why",
    [
        ({"x-ms-signature-algorithm": "rsa-sha1"}, "rsa-sha256"),
        ({"Authorization": "Bearer abc"}, "no signature"),
        ({"Authorization": "Signature ***"}, "base64"),
        ({"x-ms-certificate-url": ""}, "x-ms-certificate-url"),
    ],
)
def test_a_request_missing_what_partner_center_sends_is_unsigned(signer, change, why):
    body = relationship_event("terminated", "rel-1")
    with pytest.raises(sig.Rejected, match=why):
        check(signer, body, signer.headers(body) | change)


def test_certificates_come_only_from_the_allowed_hosts_over_https_unless_an_entry_says_http():
    hosts = sig.allowed_hosts("3psostorageacct.blob.core.windows.net, http://127.0.0.1:8123")
    ok = sig.certificate_url_allowed
    assert ok("https://3psostorageacct.blob.core.windows.net/cert/x.cer", hosts)
    assert ok("https://3PSOSTORAGEACCT.blob.core.windows.net:443/cert/x.cer", hosts)
    assert ok("http://127.0.0.1:8123/cert/x.cer", hosts)
    for url in (
        "http://3psostorageacct.blob.core.windows.net/cert/x.cer",
        "https://3psostorageacct.blob.core.windows.net:8443/cert/x.cer",
        "https://evil.example/3psostorageacct.blob.core.windows.net/x.cer",
        "https://3psostorageacct.blob.core.windows.net.evil.example/x.cer",
        "https://user@3psostorageacct.blob.core.windows.net/cert/x.cer",
        "http://127.0.0.1:8124/cert/x.cer",
        "not a url",
    ):
        assert not ok(url, hosts), url


def test_an_event_names_its_relationship_or_customer_and_what_porgate_does_with_it():
    event = PartnerCenterEvent.model_validate_json(relationship_event("expired", "a-b-c"))
    assert (event.action, event.relationship_id(), event.customer_id()) == (
        "gdap_relationship",
        "a-b-c",
        None,
    )
    assert event.changed_at.tzinfo is not None
    accepted = PartnerCenterEvent.model_validate_json(customer_accepted_event("cust-9"))
    assert (accepted.action, accepted.customer_id()) == ("customer_reseller", "cust-9")
    microsofts = (
        b'{"EventName": "test-created", "ResourceUri": "http://localhost:16722/v1/webhooks/'
        b'registration/test", "ResourceName": "test", "AuditUri": null,'
        b' "ResourceChangeUtcDate": "2017-11-16T16:19:06.3520276+00:00"}'
    )
    test = PartnerCenterEvent.model_validate_json(microsofts)
    assert test.action == "none" and test.changed_at == datetime(
        2017, 11, 16, 16, 19, 6, 352027, tzinfo=UTC
    )
