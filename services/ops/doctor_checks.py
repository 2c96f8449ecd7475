"""The checks of `porgate doctor` on porgate's own servers: Kafka (reachable and authenticated,
the idempotent producer, topics, ACLs) and PostgreSQL (reachable, every schema migrated)."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import DescribeAclsRequest

from contracts.topics import DLQ
from services.catalog import all_services
from services.common.db import Migration, applied_migrations, wanted_migrations
from services.common.kafka_clients import idempotence_refusal, new_admin, reach, start_client
from services.common.kafka_security import KafkaSetupError, describe, uses_sasl
from services.common.runtime import group_id
from services.common.topic_creation import differences, expected_topics, topic_states
from services.console import queries
from services.ops import acls
from services.ops.doctor import Check, Report, Status
from services.ops.doctor_remote import remote_checks
from services.settings import Settings

TIMEOUT_S = 10.0
DESCRIBE_ACLS = 29
SECURITY_DISABLED = 54  # the broker runs no authorizer
CLUSTER_AUTHORIZATION_FAILED = 31


async def run_checks(settings: Settings) -> Report:
    kafka, postgres, remote = await asyncio.gather(
        kafka_checks(settings), postgres_checks(settings), remote_checks(settings)
    )
    return Report((*kafka, *postgres, *remote))


# ----------------------------------------------------------------------------- Kafka


async def kafka_checks(settings: Settings) -> list[Check]:
    where = settings.kafka_bootstrap_servers
    try:
        reached = await reach(settings, TIMEOUT_S)
    except KafkaSetupError as exc:
        return [Check("kafka", where, Status.FAIL, exc.problem, exc.fix)]
    checks = [
        Check("kafka", reached.address, Status.OK, f"reached and accepted ({describe(settings)})")
    ]
    try:
        refusal = await idempotence_refusal(settings)
        admin = await start_client(new_admin(settings, client_id="porgate-doctor"), settings)
    except KafkaSetupError as exc:
        return [*checks, Check("kafka", where, Status.FAIL, exc.problem, exc.fix)]
    checks.append(
        Check("kafka", "idempotent producer", Status.OK, "granted (InitProducerId)")
        if refusal is None
        else Check(
            "kafka",
            "idempotent producer",
            Status.WARN,
            f"off: {refusal}; a retried send may duplicate a record (the inbox skips it)",
            "on a cluster with ACLs, allow IdempotentWrite on the cluster to porgate's principal",
        )
    )
    try:
        checks += await _topic_checks(admin, settings)
        checks += await _acl_checks(admin, settings, reached.api_versions)
    except (KafkaError, OSError, TimeoutError) as exc:
        checks.append(Check("kafka", where, Status.FAIL, f"{type(exc).__name__}: {exc}"))
    finally:
        await admin.close()
    return checks


async def _topic_checks(admin: AIOKafkaAdminClient, settings: Settings) -> list[Check]:
    want = expected_topics(settings.topic_prefix, settings.topic_replication_factor)
    have = await topic_states(admin, list(want))
    checks = []
    for name, expected in want.items():
        found = differences(name, expected, have.get(name))
        if not found:
            detail = f"{expected.partitions} partition(s), configs as the contract says"
            checks.append(Check("topics", name, Status.OK, detail))
            continue
        fix = (
            "porgate topics"
            if name not in have
            else "kafka-configs.sh --alter (configs) or kafka-topics.sh --alter (partitions;"
            " drain first, see deploy/README.md); `porgate topics --check` lists them"
        )
        detail = "; ".join(f.removeprefix(f"{name}: ") for f in found)
        checks.append(Check("topics", name, Status.FAIL, detail, fix))
    return checks


def needed_rights(settings: Settings) -> list[acls.Need]:
    """What porgate's principal must be allowed: each consumer group reads its group and
    topics, each service writes what it publishes and the dead-letter topic."""
    plain = settings.model_copy(update={"por_authority": "registry"})
    prefix = settings.topic_prefix
    needs: dict[acls.Need, None] = {}
    for service in all_services(plain):
        for consumer in service.consumers:
            needs[acls.Need(acls.GROUP, group_id(plain, service, consumer), acls.READ)] = None
            for topic in consumer.topics:
                needs[acls.Need(acls.TOPIC, prefix + topic.name, acls.READ)] = None
        for topic in (*service.publishes, DLQ):
            needs[acls.Need(acls.TOPIC, prefix + topic.name, acls.WRITE)] = None
    return list(needs)


def principal_of(settings: Settings) -> str | None:
    """The principal the broker gives porgate: PORGATE_KAFKA_PRINCIPAL, else User:<SASL user>
    (PLAIN, SCRAM); None where the broker names it itself (OAUTHBEARER, mTLS)."""
    if settings.kafka_principal:
        return settings.kafka_principal
    if uses_sasl(settings) and settings.kafka_sasl_mechanism != "OAUTHBEARER":
        return f"User:{settings.kafka_sasl_username}"
    return None


async def _acl_checks(
    admin: AIOKafkaAdminClient, settings: Settings, versions: dict[int, tuple[int, int]]
) -> list[Check]:
    principal = principal_of(settings)
    if DESCRIBE_ACLS not in versions:
        return _unchecked("the broker offers no DescribeAcls")
    if principal is None:
        return _unchecked(
            "the broker names porgate's principal itself (no SASL user name here)",
            "set PORGATE_KAFKA_PRINCIPAL to it (User:...) to check its ACLs",
        )
    # Any resource, pattern, principal, host, operation and permission (1 = ANY).
    request = DescribeAclsRequest(1, None, 1, None, None, 1, 1)
    # aiokafka has no ACL API; its admin client sends any request.
    response = await admin._send_request(request)
    if response.error_code == SECURITY_DISABLED:
        return [
            Check(
                "acls",
                "consumer groups and topics",
                Status.OK,
                "the broker runs no authorizer: every principal may read and write",
            )
        ]
    if response.error_code == CLUSTER_AUTHORIZATION_FAILED:
        return _unchecked(f"{principal} may not describe ACLs (Describe on the cluster)")
    if response.error_code != 0:
        return _unchecked(f"DescribeAcls answered error {response.error_code}")
    bindings = [
        acls.Binding(r[0], r[1], r[2], a[0], a[1], a[2], a[3])
        for r in response.resources
        for a in r[3]
    ]
    return acl_verdicts(bindings, principal, needed_rights(settings))


def _unchecked(why: str, fix: str | None = None) -> list[Check]:
    return [Check("acls", "consumer groups and topics", Status.UNCHECKED, why, fix)]


def acl_verdicts(
    bindings: list[acls.Binding], principal: str, needs: list[acls.Need]
) -> list[Check]:
    """Each right allowed or not, where some ACL names the principal; else not checkable:
    the broker may know porgate by another name (Confluent Cloud's User:<account id> for an
    API key) or grant by RBAC, which lists no ACL."""
    if not bindings:
        return _unchecked(
            "the broker lists no ACL at all: either it enforces none, or it denies everything"
        )
    if not any(b.principal == principal for b in bindings):
        return _unchecked(
            f"no ACL names {principal}: the broker may know porgate by another principal"
            " (Confluent Cloud: User:<service account id>), or grant by RBAC",
            "set PORGATE_KAFKA_PRINCIPAL to the principal the broker gives porgate",
        )
    checks = []
    for need in needs:
        if acls.allowed(bindings, principal, need):
            checks.append(Check("acls", need.describe(), Status.OK, f"allowed to {principal}"))
        else:
            checks.append(
                Check(
                    "acls",
                    need.describe(),
                    Status.FAIL,
                    f"not allowed to {principal}",
                    acls.grant_command(principal, need),
                )
            )
    return checks


# ----------------------------------------------------------------------------- PostgreSQL


async def postgres_checks(settings: Settings) -> list[Check]:
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return [
            Check(
                "postgresql",
                "connection",
                Status.FAIL,
                f"cannot connect: {type(exc).__name__}: {exc}",
                "check PORGATE_DATABASE_URL (host, port, user, password, database)",
            )
        ]
    checks = [Check("postgresql", "connection", Status.OK, "reached and accepted")]
    try:
        plain = settings.model_copy(update={"por_authority": "registry"})
        for service in all_services(plain):
            wanted = wanted_migrations(service.migrations)
            checks.append(await _migrated(conn, service.schema, f"schema {service.schema}", wanted))
        for schema, folder in queries.MIGRATIONS.items():
            wanted = wanted_migrations(folder, queries.READER)
            subject = f"schema {schema}: {queries.READER}'s indexes"
            checks.append(await _migrated(conn, schema, subject, wanted))
    finally:
        await conn.close()
    return checks


async def _migrated(
    conn: asyncpg.Connection, schema: str, subject: str, wanted: list[Migration]
) -> Check:
    try:
        applied = await applied_migrations(conn, schema)
    except asyncpg.UndefinedTableError:
        return Check("postgresql", subject, Status.FAIL, "not migrated", "porgate migrate")
    edited = [
        m.version for m in wanted if m.version in applied and applied[m.version] != m.checksum
    ]
    pending = [m.version for m in wanted if m.version not in applied]
    if edited:
        return Check(
            "postgresql",
            subject,
            Status.FAIL,
            f"applied migration(s) {', '.join(edited)} differ from this release's",
            "run the release whose migrations were applied, or restore the migration files",
        )
    if pending:
        return Check(
            "postgresql",
            subject,
            Status.FAIL,
            f"{len(pending)} migration(s) pending: {', '.join(pending)}",
            "porgate migrate",
        )
    return Check("postgresql", subject, Status.OK, f"{len(applied)} migration(s), none pending")
