"""What can go wrong with a Partner Center call, typed so that a caller can decide what to do."""

from __future__ import annotations


class PartnerCenterError(Exception):
    """A Partner Center call that produced no answer. `distributor_id` names whose call it was."""

    def __init__(self, distributor_id: str, message: str) -> None:
        super().__init__(f"{distributor_id}: {message}")
        self.distributor_id = distributor_id


class NotConfigured(PartnerCenterError):
    """No credentials for this distributor (or none for app+user calls): nothing was sent."""


class AuthenticationFailed(PartnerCenterError):
    """Entra ID refused the credentials, or Partner Center refused a fresh token: fix the setup."""


class Unavailable(PartnerCenterError):
    """Partner Center (or Entra ID) did not answer usefully: 5xx, timeouts, or an open circuit.

    `breaker_open` says no call was even attempted, because recent attempts kept failing.
    """

    def __init__(self, distributor_id: str, message: str, *, breaker_open: bool = False) -> None:
        super().__init__(distributor_id, message)
        self.breaker_open = breaker_open


class Throttled(PartnerCenterError):
    """429s for longer than the call may wait; `retry_after_s` is how much longer to stay away."""

    def __init__(self, distributor_id: str, message: str, *, retry_after_s: float) -> None:
        super().__init__(distributor_id, message)
        self.retry_after_s = retry_after_s


class Rejected(PartnerCenterError):
    """A permanent 4xx, or an answer that breaks the documented shape: retrying will not help.

    `code` and `description` come from Partner Center's error body when it sent one.
    """

    def __init__(
        self,
        distributor_id: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(distributor_id, message)
        self.status = status
        self.code = code
        self.description = description
