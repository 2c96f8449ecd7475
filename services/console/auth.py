"""Who is signed in: keys, signed session cookies, CSRF tokens.

A session is a signed cookie (itsdangerous), not a server-side record, so any API replica
with the same PORGATE_CONSOLE_SECRET accepts it. It holds a random session id and an HMAC
fingerprint of the key, never the key: removing a key from the configuration ends the
sessions it opened, at their next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "porgate_console"
# Binds the sign-in form to the browser that loaded it (login CSRF).
SIGN_IN_COOKIE = "porgate_console_sign_in"
SIGN_IN_MAX_AGE_S = 3600


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in reader: one distributor's key, or an operator's (distributor_id None)."""

    distributor_id: str | None
    session_id: str
    csrf_token: str
    # The fingerprint of the key that opened the session: what a per-key limit counts.
    key_id: str = ""

    @property
    def is_operator(self) -> bool:
        return self.distributor_id is None

    def may_see(self, distributor_id: str | None) -> bool:
        return self.is_operator or (
            distributor_id is not None and distributor_id == self.distributor_id
        )

    def scope(self, requested: str | None) -> str | None:
        """The distributor a query is limited to: the reader's own, or what an operator chose."""
        if self.is_operator:
            return requested or None
        return self.distributor_id


OPERATOR = "*"  # a session's scope for an operator key


class Sessions:
    def __init__(
        self,
        api_keys: dict[str, str],
        operator_keys: list[str],
        secret: str,
        lifetime_s: int,
    ) -> None:
        self._secret = secret.encode()
        self._lifetime_s = lifetime_s
        self._scope_by_fingerprint: dict[str, str] = {}
        for key, distributor in api_keys.items():
            if key:
                self._scope_by_fingerprint[self._fingerprint(key)] = distributor
        for key in operator_keys:
            self._scope_by_fingerprint[self._fingerprint(key)] = OPERATOR
        self._cookies = URLSafeTimedSerializer(secret, salt="porgate-console-session")
        self._sign_in = URLSafeTimedSerializer(secret, salt="porgate-console-sign-in")
        # Signed-out session ids until they would have expired anyway. Per process: with
        # several replicas a signed-out cookie still opens the others until it expires.
        self._signed_out: dict[str, float] = {}

    @property
    def lifetime_s(self) -> int:
        return self._lifetime_s

    def _fingerprint(self, key: str) -> str:
        return hmac.new(self._secret, b"key:" + key.encode(), hashlib.sha256).hexdigest()[:32]

    def _csrf_for(self, session_id: str) -> str:
        return hmac.new(self._secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    def sign_in(self, presented: str) -> str | None:
        """A session cookie's value for a valid key, else None (the same for any wrong key)."""
        fingerprint = self._fingerprint(presented.strip()) if presented.strip() else ""
        if not any(hmac.compare_digest(fingerprint, known) for known in self._scope_by_fingerprint):
            return None
        return self._cookies.dumps({"sid": secrets.token_urlsafe(18), "fp": fingerprint})

    def principal(self, cookie: str | None) -> Principal | None:
        if not cookie:
            return None
        try:
            data = self._cookies.loads(cookie, max_age=self._lifetime_s)
        except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
            return None
        session_id, scope = data.get("sid"), self._scope_by_fingerprint.get(data.get("fp", ""))
        if not isinstance(session_id, str) or scope is None or session_id in self._signed_out:
            return None
        return Principal(
            None if scope == OPERATOR else scope,
            session_id,
            self._csrf_for(session_id),
            data["fp"],
        )

    def sign_out(self, principal: Principal) -> None:
        now = time.monotonic()
        self._signed_out = {s: t for s, t in self._signed_out.items() if t > now}
        self._signed_out[principal.session_id] = now + self._lifetime_s

    def csrf_ok(self, principal: Principal, presented: str | None) -> bool:
        # As bytes: compare_digest refuses a str with non-ASCII characters (a 500, not a 403).
        return bool(presented) and hmac.compare_digest(
            principal.csrf_token.encode(), (presented or "").encode()
        )

    # -- the sign-in form's own token, before there is a session

    def new_sign_in_nonce(self) -> tuple[str, str]:
        """(cookie value, form token) for one sign-in form."""
        nonce = secrets.token_urlsafe(18)
        return self._sign_in.dumps(nonce), self._sign_in_token(nonce)

    def _sign_in_token(self, nonce: str) -> str:
        return hmac.new(self._secret, b"sign-in:" + nonce.encode(), hashlib.sha256).hexdigest()

    def sign_in_form_ok(self, cookie: str | None, presented: str | None) -> bool:
        if not cookie or not presented:
            return False
        try:
            nonce = self._sign_in.loads(cookie, max_age=SIGN_IN_MAX_AGE_S)
        except BadSignature:
            return False
        return hmac.compare_digest(self._sign_in_token(nonce).encode(), presented.encode())
