"""A running `porgate dev` is found by the CLI in another terminal, and says where it is."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from services.cli.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


def environment(runtime_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORGATE_")}
    return env | {"XDG_RUNTIME_DIR": str(runtime_dir), "PYTHONPATH": str(REPO)}


def porgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_porgate_dev_prints_an_export_line_and_the_cli_finds_it_while_it_runs(tmp_path):
    env = environment(tmp_path)
    state = tmp_path / "porgate" / "dev.json"
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dev", "--kafka-port", "0", "--api-port", "0"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not state.exists():
            assert dev.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        written = json.loads(state.read_text())
        assert written["pid"] == dev.pid
        exports = [line for line in log.read_text().splitlines() if line.startswith("export ")]
        assert len(exports) == 1, log.read_text()
        exported = dict(part.split("=", 1) for part in shlex.split(exports[0])[1:])
        assert exported == written["settings"]
        assert exported["PORGATE_DATABASE_URL"].startswith("postgresql://")

        # Nothing set in this "terminal": the CLI uses the running instance and says so.
        found = porgate(
            "explain", "1234567", "--distributor", "dist-eu-1", "--format", "json", env=env
        )
        assert found.returncode == 0, found.stderr
        assert found.stderr.splitlines()[0].startswith(
            "porgate: no PORGATE_KAFKA_BOOTSTRAP_SERVERS or PORGATE_DATABASE_URL set: using the"
            f" running `porgate dev` (pid {dev.pid}, Kafka at"
            f" {exported['PORGATE_KAFKA_BOOTSTRAP_SERVERS']})"
        )
        assert json.loads(found.stdout)["errorCodes"] == [800016]
        listed = porgate("notifications", "endpoints", "--format", "json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == [
            {"url": exported["PORGATE_NOTIFY_WEBHOOK_URL"], "configured": True,
             "state": "enabled", "delivered": 0, "lastDeliveredAt": None,
             "lastAttemptAt": None, "lastResult": None, "disabledAt": None,
             "disabledReason": None, "pausedUntil": None, "enabledAt": None}
        ]  # fmt: skip
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(60)
    assert dev.returncode == 0, log.read_text()[-3000:]
    assert not state.exists()
    # Gone: the CLI no longer uses it (it goes to the default servers instead).
    assert "porgate dev" not in porgate("gdap", "failed", env=env).stderr


def test_porgate_dev_says_in_one_line_that_the_kafka_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = porgate("dev", "--kafka-port", str(port), env=environment(tmp_path))
    assert result.returncode == ExitCode.CONFIG
    assert result.stdout == ""
    assert result.stderr == (
        f"porgate dev: port {port} for Kafka is taken (another `porgate dev`?); stop it, or pass"
        " --kafka-port PORT (0: any free port)\n"
    )
