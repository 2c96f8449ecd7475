"""A free TCP port on the loopback interface, for a server started in this process: the
stand-ins, the embedded servers and the tests' receivers."""

from __future__ import annotations

import contextlib
import socket


def free_port() -> int:
    # Another process may take it before the caller binds it; the callers are local servers
    # started at once, where that race is not worth a retry loop.
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
