"""API keys, each bound to one distributor. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hashlib
import hmac


class ApiKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        # Keep only digests: a key never sits in memory dumps or reprs in clear.
        self._by_digest = {hashlib.sha256(k.encode()).digest(): d for k, d in keys.items() if k}

    def distributor_for(self, presented: str | None) -> str | None:
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for known, distributor in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                found = distributor
        return found


def presented_key(headers) -> str | None:
    """`Authorization: Bearer KEY` (as Partner Center's clients send a token) or `X-Api-Key: KEY`."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("x-api-key") or None
