"""What a Graph call can end in, typed so that the terminator and the sync can decide."""

from __future__ import annotations


class GraphError(Exception):
    """A call that produced no usable answer. `permanent`: retrying cannot help (bad
    credentials, a 4xx); `retry_after`: how long the server asked to be left alone."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.permanent = permanent
        self.retry_after = retry_after


class NotFound(GraphError):
    """404. Not proof of absence: a wrong base URL or tenant answers the same (see gateway)."""


class Conflict(GraphError):
    """The relationship's state does not allow the action (only active ones can be terminated,
    only created ones deleted), or the action is already under way."""


class PreconditionFailed(GraphError):
    """412: the ETag of a delete no longer matches, the relationship changed since it was read."""
