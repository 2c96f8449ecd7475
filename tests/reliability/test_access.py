"""Access: API keys and what they may do, keys kept out of logs, SQL that is always
parameterised, and webhook signatures that a receiver can trust."""

from __future__ import annotations

import ast
import base64
import contextlib
import json
import logging
import time

import asyncpg
import httpx
from pydantic import SecretStr

from contracts.codec import decode
from services.common.webhook_secret import parse_webhook_secret
from services.notifier.signing import (
    HEADER,
    WEBHOOK_ID,
    WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
    signed_headers,
)
from services.notifier.webhook import body_of, post
from services.por_validator.unit_of_work import PostgresValidatorUnitOfWork
from tests.e2e import registry_data as R
from tests.reliability.harness import REPO, LocalServer, Webhook, note, tally
from tests.support import api_client

KEY_EU = "k-eu-3f9a1c0b7d2e4a68b5c1d9e0f7a6b3c2"
KEY_JA = "k-ja-8e2d4f6a1b3c5d7e9f0a2b4c6d8e0f1a"
WRONG = ["k-wrong-0a1b2c3d4e5f60718293a4b5c6d7e8f9", KEY_EU[:-1], KEY_EU + "x", KEY_EU.upper()]
PATH = "/v1/partners/validateresellers"
EU_ANSWER = []  # VALID is partnered with the EU distributor, in its region
JA_ANSWER = [900414, 900152]  # ... and neither for the Japanese one


@contextlib.asynccontextmanager
async def api(settings):
    """The API with two keys, over a registry written by the validator's own handler."""
    conn = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": "por_validator"}
    )
    try:
        async with conn.transaction():
            for e in R.registry_events():
                event = decode(json.dumps(e).encode(), "csp.partner-registry.v1")
                await PostgresValidatorUnitOfWork(conn).project(event.data, event.time, event.id)
    finally:
        await conn.close()
    # Every wrong key below is tried from one address: tests/reliability/test_sign_in_attempts.py
    # proves the lockout; here each one must get its own 401.
    lenient = settings.model_copy(update={"sign_in_free_failures": 10_000})
    async with api_client(lenient, f"{KEY_EU}={R.DIST},{KEY_JA}={R.DIST_JA}") as client:
        yield client


def codes(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return response.json()["validationResults"][0]["errorCodes"]


async def test_api_keys_gate_every_request_and_bind_to_one_distributor(migrated, caplog):
    caplog.set_level(logging.DEBUG)  # everything any logger says, down to DEBUG
    body = {"partnerIds": [R.VALID]}
    refused = tried = 0
    async with api(migrated) as client:
        assert codes(await client.post(PATH, json=body, headers={"X-Api-Key": KEY_EU})) == EU_ANSWER
        assert (
            codes(await client.post(PATH, json=body, headers={"Authorization": f"Bearer {KEY_JA}"}))
            == JA_ANSWER
        )

        # No valid key: refused, the same way whatever was presented, and nothing is echoed back.
        no_key = [
            {},
            {"Authorization": "Bearer"},
            {"X-Api-Key": ""},
            {"Authorization": f"Basic {KEY_EU}"},
            {"Authorization": f"Token {KEY_EU}"},
            {"Authorization": KEY_EU},
            {"X-Api-Key": R.DIST},
            {"X-Api-Key": f"{KEY_EU}={R.DIST}"},
            {"Authorization": f"Bearer {KEY_JA}, Bearer {KEY_EU}"},
            {
                "Authorization": f"Bearer {WRONG[0]}",
                "X-Api-Key": KEY_EU,
            },  # the bearer one is the one presented
            *({"Authorization": f"Bearer {w}"} for w in WRONG),
            *({"X-Api-Key": w} for w in WRONG),
        ]
        for headers in no_key:
            for params in ({}, {"api_key": KEY_EU}, {"key": KEY_EU}):
                r = await client.post(PATH, json=body, headers=headers, params=params)
                tried += 1
                assert r.status_code == 401, (headers, params, r.text)
                assert (
                    r.json()["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
                )
                assert all(k not in r.text for k in (KEY_EU, KEY_JA, *WRONG))
                refused += 1
        # Refused before the body is even read: a large body without a key is still a 401.
        r = await client.post(
            PATH, content=b"x" * 200_000, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 401

        # The Japanese distributor's key, asking in the EU distributor's name every way it can:
        # the answer stays its own (or is refused), never the EU distributor's.
        attempts = [
            ({"json": {**body, "distributorId": R.DIST}}),
            (
                {
                    "json": {
                        **body,
                        "distributor_id": R.DIST,
                        "DistributorId": R.DIST,
                        "distributor": R.DIST,
                    }
                }
            ),
            ({"json": {**body, "tenantId": R.DIST, "onBehalfOf": R.DIST, "apiKey": KEY_EU}}),
            ({"json": body, "params": {"distributorId": R.DIST}}),
            ({"json": body, "params": {"distributor_id": R.DIST, "api_key": KEY_EU}}),
            ({"json": body, "headers": {"X-Distributor-Id": R.DIST}}),
            (
                {
                    "json": body,
                    "headers": {
                        "X-Porgate-Distributor": R.DIST,
                        "X-On-Behalf-Of": R.DIST,
                        "X-Forwarded-User": R.DIST,
                        "X-Tenant-Id": R.DIST,
                    },
                }
            ),
            (
                {"json": body, "headers": {"X-Api-Key": KEY_EU}}
            ),  # with the Bearer below: the Bearer counts
            (
                {
                    "json": body,
                    "headers": [
                        ("Authorization", f"Bearer {KEY_JA}"),
                        ("Authorization", f"Bearer {KEY_EU}"),
                    ],
                }
            ),
            (
                {
                    "json": body,
                    "headers": {"Authorization": f"Bearer {KEY_JA}", "Cookie": f"api_key={KEY_EU}"},
                }
            ),
        ]
        for extra in attempts:
            headers = extra.get("headers", {})
            if isinstance(headers, dict):
                headers = {"Authorization": f"Bearer {KEY_JA}", **headers}
            r = await client.post(
                PATH, json=extra["json"], params=extra.get("params"), headers=headers
            )
            tried += 1
            if r.status_code == 401:
                refused += 1
                continue
            assert codes(r) == JA_ANSWER, (extra, r.text)
            assert all(k not in r.text for k in (KEY_EU, KEY_JA))
        # The EU key cannot ask as the Japanese distributor either.
        r = await client.post(
            PATH,
            json={**body, "distributorId": R.DIST_JA},
            params={"distributorId": R.DIST_JA},
            headers={"X-Api-Key": KEY_EU, "X-Distributor-Id": R.DIST_JA},
        )
        assert codes(r) == EU_ANSWER

    # No key, valid or not, in anything any logger recorded while all that happened.
    assert any(r.name.startswith("services.api") for r in caplog.records), (
        "the API logged nothing: no proof"
    )
    leaked = []
    server_side = [
        r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]  # not the test's client
    for record in server_side:
        text = f"{record.getMessage()} {record.__dict__!r}"
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        leaked += [(k[:6] + "...", record.name) for k in (KEY_EU, KEY_JA, *WRONG) if k in text]
    assert not leaked, f"API keys in the logs: {leaked}"
    s = migrated.model_copy(update={"api_keys": SecretStr(f"{KEY_EU}={R.DIST}")})
    assert KEY_EU not in repr(s) and KEY_EU not in str(s.model_dump())  # settings print masked
    tally(**{"bad inputs tried": tried})
    note(
        f"access: {tried} requests without a valid key or in another distributor's name; {refused} refused, "
        f"the rest answered for the key's own distributor; {len(server_side)} server-side log records, no key in any"
    )


# ----------------------------------------------------------------------------- SQL

SQL_METHODS = {"execute", "executemany", "fetch", "fetchval", "fetchrow", "prepare", "cursor"}

# SQL that is built, each with why it is safe. Keyed by file and the SQL argument's source.
ALLOWED = {
    (
        "services/common/db.py",
        "f'CREATE SCHEMA IF NOT EXISTS {schema}'",
    ): "an identifier cannot be a bind parameter; migrate() validates it with _check_schema's regex first",
    (
        "services/common/db.py",
        "f'SET search_path TO {schema}'",
    ): "an identifier cannot be a bind parameter; migrate() validates it with _check_schema's regex first",
    (
        "services/common/db.py",
        "f'SELECT version, checksum FROM {schema}.schema_migrations'",
    ): "an identifier cannot be a bind parameter; applied_migrations() validates it with _check_schema's regex first",
    (
        "services/por_validator/decision_store.py",
        "sql",
    ): "still_blocked() joins constant fragments only (so each combination of filters gets a plan using its index); every value is a bind parameter",
    (
        "services/common/db.py",
        "m.sql",
    ): "the contents of the repository's own migration files (services/*/migrations/NNN_name.sql)",
}


def _safe(expr: ast.AST, scopes: list[ast.AST]) -> bool:
    """Is this SQL expression built from string constants only?"""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.JoinedStr):  # an f-string: safe only without {placeholders}
        return all(isinstance(v, ast.Constant) for v in expr.values)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _safe(expr.left, scopes) and _safe(expr.right, scopes)
    if isinstance(expr, ast.IfExp):
        return _safe(expr.body, scopes) and _safe(expr.orelse, scopes)
    if isinstance(expr, ast.Name):  # a variable: every assignment to it in scope must be safe
        values = [
            node.value
            for scope in scopes
            for node in ast.walk(scope)
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and node.value is not None
            and any(
                isinstance(t, ast.Name) and t.id == expr.id
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            )
        ]
        return bool(values) and all(_safe(v, scopes) for v in values)
    # % formatting, .format(), any other call or attribute: not provably constant.
    return False


def sql_findings(source: str, filename: str) -> list[tuple[str, int, str]]:
    tree = ast.parse(source, filename=filename)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_METHODS
        ):
            continue
        sql = (
            node.args[0]
            if node.args
            else next((k.value for k in node.keywords if k.arg in ("query", "sql")), None)
        )
        if sql is None:
            continue
        scopes, p = [], node
        while p in parents:
            p = parents[p]
            if isinstance(p, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.Module):
                scopes.append(p)
        # Names resolve in the enclosing function first; module-level constants via the module.
        if not _safe(
            sql,
            scopes[:1] + [s for s in scopes[1:] if isinstance(s, ast.Module)] if scopes else [tree],
        ):
            found.append((filename, node.lineno, ast.unparse(sql)))
    return found


def test_the_sql_checker_finds_built_sql():
    snippet = """
Q = "SELECT 1 WHERE a = $1"
async def f(conn, name, table):
    await conn.execute(Q, name)                                   # constant: fine
    await conn.fetch("SELECT " "x FROM t WHERE y = $1", name)     # literal concatenation: fine
    await conn.fetch(f"SELECT * FROM t WHERE name = '{name}'")
    await conn.fetchval("SELECT * FROM t WHERE name = '%s'" % name)
    await conn.fetchrow("SELECT * FROM {} WHERE id = $1".format(table), 1)
    await conn.execute("DELETE FROM t WHERE name = '" + name + "'")
    sql = "SELECT * FROM " + table
    await conn.executemany(sql, [])
    await pool.execute(query=f"DROP TABLE {table}")
"""
    lines = sorted(line for _, line, _ in sql_findings(snippet, "snippet.py"))
    assert lines == [6, 7, 8, 9, 11, 12]


def test_every_sql_statement_in_services_is_parameterised():
    findings, calls = [], 0
    for path in sorted((REPO / "services").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        source = path.read_text()
        calls += sum(
            1
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr in SQL_METHODS
        )
        for file, line, sql in sql_findings(source, rel):
            if (file, sql) not in ALLOWED:
                findings.append(f"{file}:{line}: SQL built from a non-constant: {sql[:120]}")
    assert not findings, "\n".join(findings)
    assert calls > 50, f"only {calls} SQL calls found: is the scan looking at the right files?"
    # The allow-list's reason holds: migrate() validates the schema name before building SQL with it.
    db = (REPO / "services/common/db.py").read_text()
    assert (
        "schema = _check_schema(schema)" in db
        and '_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")' in db
    )
    note(
        f"SQL: {calls} execute/fetch* calls in services/, all with constant SQL and bind parameters, "
        f"{len(ALLOWED)} allow-listed (schema identifiers checked by a regex, migration files)"
    )


# ----------------------------------------------------------------------------- webhook signatures


async def test_webhook_signature_verifies_and_tampering_fails_in_a_receiver():
    secret = "whsec_" + base64.b64encode(b"signature-test-key-of-32-bytes!!").decode()
    hook = Webhook(secret)
    payload = {
        "notificationId": "n-1",
        "kind": "transaction_blocked",
        "orderId": "o'; DROP TABLE x;--",
        "title": "ブロック",
        "errorCodes": [900414],
    }
    keys = [parse_webhook_secret(secret)]
    async with LocalServer(hook.app()) as server, httpx.AsyncClient(timeout=5) as client:
        url = f"{server.base}/hook"
        # The notifier's own sender: signed, accepted.
        outcome = await post(client, url, keys, "n-1", payload)
        assert outcome.delivered, outcome
        genuine = hook.receipts[-1]
        assert genuine.signed and genuine.body == body_of(payload)

        t = int(time.time())
        good = signed_headers(keys, "n-1", genuine.body, t)
        assert hook.verifies(genuine.body, good)
        sig = good[WEBHOOK_SIGNATURE].removeprefix("v1,")
        mac = good[HEADER].split("v1=")[1]
        other = signed_headers([parse_webhook_secret("whsec_" + "b" * 44)], "n-1", genuine.body, t)
        old = signed_headers(keys, "n-1", genuine.body, t - 3600)  # an old capture replayed
        ahead = signed_headers(keys, "n-1", genuine.body, t + 3600)

        # Replayed to the receiver with the genuine body's headers, every tampering fails.
        tampered_bodies = [
            genuine.body.replace(b"900414", b"900415"),
            genuine.body.replace(b'"n-1"', b'"n-2"'),
            genuine.body + b" ",
            b" " + genuine.body,
            genuine.body[:-1],
            body_of({**payload, "errorCodes": []}),
        ]
        # Each changes one header and keeps the others genuine, so each check is tried alone.
        tampered_headers = [
            {WEBHOOK_SIGNATURE: None},
            {WEBHOOK_SIGNATURE: ""},
            {WEBHOOK_SIGNATURE: "garbage"},
            {WEBHOOK_SIGNATURE: sig},
            {WEBHOOK_SIGNATURE: "v2," + sig},
            # The first character: all six of its bits are signature bits (the last one before
            # "=" carries padding bits, and changing only those changes nothing).
            {WEBHOOK_SIGNATURE: "v1," + ("A" if sig[0] != "A" else "B") + sig[1:]},
            {WEBHOOK_SIGNATURE: other[WEBHOOK_SIGNATURE]},
            {WEBHOOK_ID: None},
            {WEBHOOK_ID: "n-2"},
            {WEBHOOK_TIMESTAMP: None},
            {WEBHOOK_TIMESTAMP: str(t + 1)},
            {WEBHOOK_TIMESTAMP: "abc"},
            {WEBHOOK_TIMESTAMP: old[WEBHOOK_TIMESTAMP], WEBHOOK_SIGNATURE: old[WEBHOOK_SIGNATURE]},
            {
                WEBHOOK_TIMESTAMP: ahead[WEBHOOK_TIMESTAMP],
                WEBHOOK_SIGNATURE: ahead[WEBHOOK_SIGNATURE],
            },
            # The deprecated header is checked too, as long as it is sent.
            {HEADER: None},
            {HEADER: "garbage"},
            {HEADER: f"t={t + 1},v1={mac}"},
            {HEADER: f"t={t},v1={mac.upper()}"},
            {HEADER: other[HEADER]},
            {HEADER: old[HEADER]},
        ]
        before = len(hook.receipts)
        for body in tampered_bodies:
            assert not hook.verifies(body, good)
            r = await client.post(url, content=body, headers=good)
            assert r.status_code == 401
        for change in tampered_headers:
            headers = {k: v for k, v in {**good, **change}.items() if v is not None}
            assert not hook.verifies(genuine.body, headers), change
            r = await client.post(url, content=genuine.body, headers=headers)
            assert r.status_code == 401, change
        assert all(not r.signed for r in hook.receipts[before:])
        # Rotation: two v1 values, either secret verifies.
        previous = "whsec_" + base64.b64encode(b"old").decode()
        both = signed_headers([*keys, parse_webhook_secret(previous)], "n-1", genuine.body, t)
        assert hook.verifies(genuine.body, both) and Webhook(previous).verifies(genuine.body, both)
    tally(**{"bad inputs tried": len(tampered_bodies) + len(tampered_headers)})
