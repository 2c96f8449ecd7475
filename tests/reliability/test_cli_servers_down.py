"""Every CLI command with its servers away: one line naming what it could not reach, that
kind's exit code (docs/cli.md), no traceback, nothing left open.

In-process where a closed port is enough; as a process of its own where what matters is
what an operator's terminal shows (warnings about unclosed clients, a stopped server).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.cli.errors import ExitCode
from services.common.ports import free_port
from services.devtools.embedded import EmbeddedPostgres
from services.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
DIST = "dist-down"

# Every command that needs PostgreSQL first (before any broker), as an operator types it.
POSTGRES_COMMANDS = [
    ["migrate"],
    ["explain", "1234567", "--distributor", DIST],
    ["explain", "1234567", "--distributor", DIST, "--format", "json"],
    ["report", "eligibility", "--distributor", DIST],
    ["report", "eligibility", "--distributor", DIST, "--format", "json"],
    ["report", "observe", "--distributor", DIST],
    ["report", "at-risk", "--distributor", DIST],
    ["gdap", "failed"],
    ["gdap", "failed", "--format", "csv"],
    ["gdap", "retry", "--yes"],
    ["gdap", "retry", "--relationship-id", "rel-1"],
    ["notifications", "failed"],
    ["notifications", "retry", "--dry-run"],
    ["notifications", "endpoints"],
    ["notifications", "enable", "--yes"],
    ["notifications", "enable", "--url", "https://example.test/hook"],
    ["replay", "revalidate", "--dry-run"],
    ["sync", "partner-center", "--distributor", DIST],
]
KAFKA_COMMANDS = [
    ["topics"],
    ["dlq", "list"],
    ["dlq", "list", "--format", "json"],
    ["dlq", "inspect", "0"],
    ["dlq", "redrive", "--all", "--dry-run"],
    ["dlq", "redrive", "--offset", "3"],
    ["replay", "topic", "csp.orders.v1", "--yes"],
]


@pytest.fixture
def down(tmp_path, monkeypatch):
    """Settings naming servers that are not there: closed loopback ports."""
    monkeypatch.setenv("PORGATE_DATABASE_URL", f"postgresql://porgate:pw@127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("PORGATE_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    credentials = tmp_path / "partner-center.json"
    credentials.write_text(
        json.dumps({DIST: {"tenantId": "t", "clientId": "c", "clientSecret": "s", "refreshToken": "r"}})
    )  # fmt: skip
    monkeypatch.setenv("PORGATE_PARTNER_CENTER_CREDENTIALS_FILE", str(credentials))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def one_line(result) -> str:
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args", POSTGRES_COMMANDS, ids=" ".join)
def test_with_postgresql_down_a_command_says_so_in_one_line_and_exits_4(down, args):
    result = CliRunner().invoke(app, args)
    line = one_line(result)
    assert result.exit_code == ExitCode.POSTGRES, line
    assert line.startswith("porgate: cannot reach PostgreSQL at 127.0.0.1:"), line
    assert "pw" not in line  # the password stays in the setting


@pytest.mark.parametrize("args", KAFKA_COMMANDS, ids=" ".join)
def test_with_kafka_down_a_command_says_so_in_one_line_and_exits_3(down, args):
    result = CliRunner().invoke(app, args)
    line = one_line(result)
    assert result.exit_code == ExitCode.KAFKA, line
    assert line.startswith(
        f"porgate: Kafka at {os.environ['PORGATE_KAFKA_BOOTSTRAP_SERVERS']}: cannot connect ("
    ), line


@pytest.mark.parametrize("args", [["gdap", "failed"], ["dlq", "list"], ["topics"]], ids=" ".join)
def test_an_invalid_setting_is_named_in_one_line_and_exits_6(down, monkeypatch, args):
    monkeypatch.setenv("PORGATE_NOTIFY_MAX_ATTEMPTS", "many")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ExitCode.CONFIG
    assert one_line(result).startswith("porgate: invalid setting PORGATE_NOTIFY_MAX_ATTEMPTS:")


def porgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dlq_list_with_kafka_down_leaves_no_consumer_open():
    # Every warning shown: an unclosed consumer is reported when it is collected.
    result = porgate(
        "dlq",
        "list",
        env={
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "PYTHONWARNINGS": "always",
            "PYTHONDEVMODE": "1",
        },
    )
    assert result.returncode == ExitCode.KAFKA
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("porgate: Kafka at 127.0.0.1:"), result.stderr


def test_a_stopped_postgresql_is_one_line_and_exit_4():
    server = EmbeddedPostgres()
    url = server.start()
    server.stop()
    result = porgate("gdap", "failed", env={"PORGATE_DATABASE_URL": url})
    assert result.returncode == ExitCode.POSTGRES, result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("porgate: cannot reach PostgreSQL at database 'porgate'")


async def test_with_partner_center_unreachable_the_sync_says_so_and_exits_5(
    migrated, down, monkeypatch
):
    closed = f"http://127.0.0.1:{free_port()}"
    for name, value in {
        "DATABASE_URL": migrated.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": migrated.kafka_bootstrap_servers,
        "TOPIC_PREFIX": migrated.topic_prefix,
        "PARTNER_CENTER_URL": closed,
        "ENTRA_AUTHORITY_URL": closed,
        "PARTNER_CENTER_RETRY_INITIAL_S": "0.01",
        "PARTNER_CENTER_RETRY_MAX_S": "0.02",
    }.items():
        monkeypatch.setenv(f"PORGATE_{name}", value)
    get_settings.cache_clear()
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["sync", "partner-center", "--distributor", DIST]
    )
    assert result.exit_code == ExitCode.REMOTE, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"porgate: cannot reach Partner Center for {DIST} ("
    ), result.stderr
