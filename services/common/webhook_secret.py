"""Webhook secrets as configured: `whsec_<base64>` (Standard Webhooks) or a legacy plain string.

config.py refuses at start a secret that cannot be decoded; the notifier signs with it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

PREFIX = "whsec_"


class WebhookSecretError(ValueError):
    """A secret in the whsec_ form whose key cannot be decoded. Never quotes the secret."""


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    # repr=False: a secret must not reach a log line through a repr.
    key: bytes = field(repr=False)  # the HMAC key of `webhook-signature`
    # The configured string as bytes: the key of the deprecated X-Porgate-Signature, so a
    # receiver verifying that header keeps working with the string it was given.
    text: bytes = field(repr=False)
    legacy: bool  # not in the whsec_ form: deprecated, accepted for one release


def parse_webhook_secret(value: str) -> WebhookSecret:
    """`whsec_<base64>` signs with the decoded bytes; any other string with its UTF-8 bytes."""
    value = value.strip()
    if not value.startswith(PREFIX):
        if not value:
            raise WebhookSecretError("the webhook secret is empty")
        return WebhookSecret(key=value.encode(), text=value.encode(), legacy=True)
    encoded = value.removeprefix(PREFIX)
    try:
        # Padding is optional, as in the standardwebhooks package; anything else must be
        # standard base64, or the sender and its receivers would derive different keys.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(
            f"a webhook secret starting with {PREFIX} must be base64 after the prefix"
        ) from None
    if not key:
        raise WebhookSecretError(f"the webhook secret has no key after {PREFIX}")
    return WebhookSecret(key=key, text=value.encode(), legacy=False)
