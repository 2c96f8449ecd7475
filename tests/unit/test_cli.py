"""The command line without servers: its option vocabulary, its version, its output shapes,
and how it finds a running `porgate dev`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata

import pytest
import typer
from typer.testing import CliRunner

from services.cli import app, dlq
from services.cli.errors import ExitCode, postgres_where
from services.cli.explain import print_explanation
from services.cli.output import Column, Tabular, emit, spreadsheet_safe, stdout_console
from services.common.ports import free_port
from services.devtools.dev_state import (
    export_line,
    read_state,
    remove_state,
    running_dev,
    state_path,
    write_state,
)
from services.domain.explain import Explanation, FactReading, StepResult
from services.rendering.explanation import render
from services.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def commands(group=None, path=()):
    """Every (path, click command) under the root app."""
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_version_prints_the_installed_version_and_exits_zero():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"porgate {metadata.version('porgate')}\n"


def test_every_format_option_offers_one_of_the_two_choice_lists():
    formats = {}
    for path, command in commands():
        for param in command.params:
            if "--format" in param.opts:
                choices = param.type_descriptor.annotation
                formats[" ".join(path)] = tuple(c.value for c in choices)
            # The old flag is accepted, never offered.
            assert "--json" not in param.opts or param.hidden, path
    messages = {formats.pop("remediation")}  # a message to forward, not a listing
    assert messages == {("text", "json", "html")}
    assert set(formats.values()) <= {("text", "json", "csv"), ("text", "json")}
    for listing in (
        "dlq list",
        "dlq redrive",
        "gdap failed",
        "gdap retry",
        "notifications failed",
        "notifications retry",
        "notifications endpoints",
        "notifications enable",
        "replay topic",
        "replay revalidate",
        "report eligibility",
        "report at-risk",
    ):
        assert formats[listing] == ("text", "json", "csv"), listing
    for document in ("explain", "report observe", "dlq inspect"):
        assert formats[document] == ("text", "json"), document


def test_every_bulk_change_has_a_dry_run_and_a_yes():
    by_path = {" ".join(p): c for p, c in commands()}
    for bulk in (
        "gdap retry",
        "notifications retry",
        "notifications enable",
        "dlq redrive",
        "replay topic",
        "replay revalidate",
    ):
        opts = {o for param in by_path[bulk].params for o in param.opts}
        assert {"--dry-run", "--yes"} <= opts, bulk


def test_an_unknown_format_is_a_usage_error(tmp_path):
    # No dev instance of this machine's user is looked up: the runtime dir is the test's.
    no_dev = {"XDG_RUNTIME_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["dlq", "list", "--format", "xml"], env=no_dev)
    assert result.exit_code == ExitCode.USAGE


def test_a_table_cannot_be_written_to_a_file(tmp_path):
    out = tmp_path / "report.txt"
    result = CliRunner().invoke(
        app,
        ["report", "eligibility", "--distributor", "d", "--format", "text", "--output", out],
        env={"XDG_RUNTIME_DIR": str(tmp_path)},
    )
    assert result.exit_code == ExitCode.USAGE and not out.exists()


# ----------------------------------------------------------------------------- output shapes

ROWS = [
    {"id": "n-1", "error": "=HYPERLINK(\"http://x\")", "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
     "ok": True, "codes": [900151, 800016]},
    {"id": "n-2", "error": None, "at": None, "ok": False, "codes": []},
]  # fmt: skip
COLUMNS = [
    Column("id", "id"),
    Column("error", "error"),
    Column("at", "at"),
    Column("ok", "ok"),
    Column("codes", "codes"),
]


def test_json_output_is_one_array_of_the_rows(capsys):
    emit(ROWS, COLUMNS, Tabular.json, title="t", empty="none")
    assert json.loads(capsys.readouterr().out) == [
        {"id": "n-1", "error": '=HYPERLINK("http://x")', "at": "2026-01-02T03:04:05+00:00",
         "ok": True, "codes": [900151, 800016]},
        {"id": "n-2", "error": None, "at": None, "ok": False, "codes": []},
    ]  # fmt: skip


def test_csv_output_has_a_header_and_neutralises_formulas(capsys):
    emit(ROWS, COLUMNS, Tabular.csv, title="t", empty="none")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        {"id": "n-1", "error": "'=HYPERLINK(\"http://x\")", "at": "2026-01-02T03:04:05+00:00",
         "ok": "true", "codes": "900151,800016"},
        {"id": "n-2", "error": "", "at": "", "ok": "false", "codes": ""},
    ]  # fmt: skip


def test_an_empty_listing_is_an_empty_array_a_header_or_a_sentence(capsys):
    for fmt, expected in (
        (Tabular.json, "[]\n"),
        (Tabular.csv, "id,error,at,ok,codes\r\n"),
        (Tabular.text, "none\n"),
    ):
        emit([], COLUMNS, fmt, title="t", empty="none")
        assert capsys.readouterr().out == expected


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_start_with_a_quote(text):
    assert spreadsheet_safe(text) == "'" + text
    assert spreadsheet_safe("plain " + text) == "plain " + text


def test_a_table_piped_does_not_wrap_ids_or_times(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    long_id = "evt-" + "0123456789abcdef" * 6
    emit([{"id": long_id, "error": "x" * 150}], COLUMNS[:2], Tabular.text, title="t", empty="")
    out = capsys.readouterr().out
    assert any(long_id in line and "x" * 150 in line for line in out.splitlines()), out


def walk() -> Explanation:
    at = datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC)
    event = "0f9a1c1e-6b9f-5b7e-9d38-4c1f2e7a9b10-with-a-long-suffix"
    return Explanation(
        "1234567",
        "dist-jp-1",
        (
            StepResult(1, "pla_id_shape", "pass", None, (FactReading("partnerIdOnRecord", "1234567"),)),
            StepResult(2, "partner_account_known", "fail", 800016,
                       (FactReading("partnerAccount.known", False, at, event),)),
            StepResult(3, "account_is_pla", "skipped", None),
        ),
    )  # fmt: skip


def test_explain_piped_keeps_ids_and_times_on_one_line(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    print_explanation(stdout_console(), render(walk(), "en"))
    out = capsys.readouterr().out
    fact = "partnerAccount.known = false  (2026-03-01T12:30:15Z, 0f9a1c1e-6b9f-5b7e-9d38-4c1f2e7a9b10-with-a-long-suffix)"
    assert any(fact in line for line in out.splitlines()), out
    assert "not valid, error codes: 800016" in out


def test_explain_in_japanese_says_the_verdict_and_outcomes_in_japanese(capsys):
    print_explanation(stdout_console(), render(walk(), "ja"))
    out = capsys.readouterr().out
    assert "無効、エラー コード: 800016" in out
    assert "合格" in out and "不合格 800016" in out and "未評価" in out
    assert "False" not in out and "= True" not in out
    for english in ("pass", "fail", "skipped", "valid"):
        assert english not in out.replace("partnerIdOnRecord", ""), english


# ----------------------------------------------------------------------------- where servers are


def test_a_database_url_is_shown_without_its_password():
    assert postgres_where("postgresql://app:s3cret@db.internal:6432/porgate") == (
        "db.internal:6432/porgate"
    )
    shown = postgres_where("postgresql://postgres:pw@/porgate?host=/tmp/pg-x&port=5433")
    assert shown == "database 'porgate' on the socket in /tmp/pg-x (port 5433)"
    assert "pw" not in shown


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_state_file_is_read_only_while_its_instance_runs(tmp_path):
    path = tmp_path / "porgate" / "dev.json"
    servers = {"PORGATE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PORGATE_DATABASE_URL": "x"}
    write_state(servers, path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert read_state(path) == (os.getpid(), servers)
    path.write_text(json.dumps({"pid": dead_pid(), "settings": servers}))
    assert read_state(path) is None  # killed before it could remove it
    path.write_text("{not json")
    assert read_state(path) is None


def test_an_instance_removes_only_its_own_state_file(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"pid": 1, "settings": {}}))  # another instance's
    remove_state(path)
    assert path.exists()
    write_state({}, path)
    remove_state(path)
    assert not path.exists()


def test_the_state_lives_in_the_runtime_dir_or_the_cache(tmp_path):
    assert state_path({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path / "porgate" / "dev.json"
    assert state_path({"HOME": str(tmp_path)}) == tmp_path / ".cache" / "porgate" / "dev.json"


def test_a_configured_server_wins_over_a_running_dev_instance(tmp_path):
    write_state({"PORGATE_DATABASE_URL": "x"}, tmp_path / "porgate" / "dev.json")
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    assert running_dev(env) is not None
    assert running_dev(env | {"PORGATE_DATABASE_URL": "postgresql://elsewhere/db"}) is None
    assert running_dev(env | {"PORGATE_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}) is None


def test_the_export_line_quotes_what_the_shell_would_split():
    line = export_line({"PORGATE_DATABASE_URL": "postgresql://p@/db?host=/tmp/a&port=1"})
    assert line == "export PORGATE_DATABASE_URL='postgresql://p@/db?host=/tmp/a&port=1'"


def test_with_no_server_set_the_cli_uses_a_running_dev_instance_and_says_so(tmp_path, monkeypatch):
    port = free_port()  # nothing listens: the command must say it tried the dev instance's
    write_state(
        {
            "PORGATE_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "PORGATE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/porgate",
        },
        tmp_path / "porgate" / "dev.json",
    )
    # The runner restores these afterwards: the CLI sets the dev instance's in os.environ.
    env = {
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": None,
        "PORGATE_DATABASE_URL": None,
        "PORGATE_NOTIFY_WEBHOOK_URL": None,
    }
    result = CliRunner().invoke(app, ["gdap", "failed"], env=env)
    assert result.exit_code == ExitCode.POSTGRES
    found, failed = result.stderr.splitlines()
    assert found.startswith(
        f"porgate: no PORGATE_KAFKA_BOOTSTRAP_SERVERS or PORGATE_DATABASE_URL set: using the"
        f" running `porgate dev` (pid {os.getpid()}"
    )
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/porgate" in failed

    env["PORGATE_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{port}/other"
    result = CliRunner().invoke(app, ["gdap", "failed"], env=env)
    assert "porgate dev" not in result.stderr
    assert f"127.0.0.1:{port}/other" in result.stderr


def test_the_dlq_value_document_loses_nothing():
    assert dlq._value_document(b'{"a": 1}') == {"value": {"a": 1}}
    assert dlq._value_document(b"plain") == {"valueText": "plain"}
    assert dlq._value_document(b"\xff\x00") == {"valueBase64": "/wA="}
    assert dlq._value_document(None) == {"value": None}
