"""API keys, each bound to one distributor. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from services.api.errors import error
from services.common.sign_in_attempts import SignInAttempts


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


def attempt_subjects(request: Request, key: str | None) -> list[object]:
    """What a wrong key counts against: the client's address, and the key presented."""
    subjects: list[object] = [("address", request.client.host if request.client else "")]
    if key:
        subjects.append(("key", hashlib.sha256(key.encode()).digest()))
    return subjects


class Authenticator:
    """The API key of a request, with the limit on wrong ones (sign_in_attempts)."""

    def __init__(self, keys: ApiKeys, attempts: SignInAttempts) -> None:
        self.keys = keys
        self.attempts = attempts

    def distributor_or_refusal(self, request: Request) -> str | Response:
        key = presented_key(request.headers)
        subjects = attempt_subjects(request, key)
        if (wait := self.attempts.retry_after(subjects)) is not None:
            return error(
                429,
                "rate_limited",
                "too many wrong API keys from this client or for this key; retry later",
                **{"Retry-After": str(wait)},
            )
        distributor_id = self.keys.distributor_for(key)
        if distributor_id is None:
            if key:  # a missing key guesses nothing
                self.attempts.failed(subjects)
            # One answer for a missing and a wrong key: nothing to learn by probing.
            return error(
                401,
                "unauthorized",
                "a valid API key is required (Authorization: Bearer KEY)",
                **{"WWW-Authenticate": "Bearer"},
            )
        return distributor_id
