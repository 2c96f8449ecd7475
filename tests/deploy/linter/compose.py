"""docker-compose.yml: its porgate commands, healthchecks, start order and init service."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from services.common.tracing import requested_exporters
from tests.deploy.linter.dockerfile import Image
from tests.deploy.linter.files import compose_env
from tests.deploy.linter.porgate import (
    Problems,
    as_list,
    cli_problems,
    porgate_invocations,
    run_target,
    served_paths,
    uses_porgate_image,
)
from tests.deploy.linter.topics import EXPECTED_REPLICATION, init_problems


def compose_argv(service: dict, image: Image) -> list[str]:
    entrypoint, cmd = image
    if "entrypoint" in service:  # compose drops the image's CMD when entrypoint is overridden
        return as_list(service["entrypoint"]) + as_list(service.get("command"))
    return entrypoint + (as_list(service["command"]) if "command" in service else cmd)


def compose_targets(compose: dict, image: Image) -> dict[str, str | None]:
    return {
        name: run_target(porgate_invocations(compose_argv(svc, image))[0])
        for name, svc in compose["services"].items()
        if uses_porgate_image(svc)
    }


def compose_command_problems(compose: dict, image: Image) -> Problems:
    problems = []
    for name, svc in compose["services"].items():
        if not uses_porgate_image(svc):
            continue
        invocations, bad = porgate_invocations(compose_argv(svc, image))
        problems += [f"compose {name}: {p}" for p in bad]
        for args in invocations:
            problems += [f"compose {name}: {p}" for p in cli_problems(args)]
    return problems


def compose_health_problems(compose: dict, image: Image) -> Problems:
    problems = []
    for name, svc in compose["services"].items():
        if not uses_porgate_image(svc):
            continue
        target = run_target(porgate_invocations(compose_argv(svc, image))[0])
        if target is None:
            continue  # one-shot (init)
        check = svc.get("healthcheck") or {}
        text = " ".join(as_list(check.get("test")))
        urls = re.findall(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)(/[\w.-]*)", text)
        if check.get("disable") or not urls:
            problems.append(f"compose {name}: no HTTP healthcheck")
            continue
        served = served_paths(target, compose_env(svc))
        for port, path in urls:
            if path not in served.get(int(port), set()):
                problems.append(
                    f"compose {name}: check {port}{path} not served by `run {target}`: {served}"
                )
    return problems


def compose_wiring_problems(compose: dict, image: Image) -> Problems:
    problems = []
    services = compose["services"]
    kafka = services.get("kafka", {})
    if kafka.get("image") != "apache/kafka:3.9.1":
        problems.append("compose kafka: not apache/kafka:3.9.1")
    env = kafka.get("environment") or {}
    if "broker" not in str(env.get("KAFKA_PROCESS_ROLES")) or "controller" not in str(
        env.get("KAFKA_PROCESS_ROLES")
    ):
        problems.append("compose kafka: not a combined KRaft broker,controller")
    if str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() != "false":
        problems.append("compose kafka: auto-created topics would bypass `porgate topics`")
    if not str(services.get("postgres", {}).get("image", "")).startswith("postgres:17"):
        problems.append("compose postgres: not postgres:17")
    for name, svc in services.items():
        # Other images (Kafka, PostgreSQL, Prometheus, Grafana) pinned: `up` must not drift.
        tag = str(svc.get("image", "")).rpartition("/")[2].partition(":")[2]
        if not uses_porgate_image(svc) and (not re.search(r"\d", tag) or tag == "latest"):
            problems.append(
                f"compose {name}: image {svc.get('image')!r} is not pinned to a version"
            )
    init = [n for n, t in compose_targets(compose, image).items() if t is None]
    if len(init) != 1:
        return problems + [f"compose: want exactly one one-shot porgate service, got {init}"]
    deps = services[init[0]].get("depends_on") or {}
    for dep in ("kafka", "postgres"):
        if (deps.get(dep) or {}).get("condition") != "service_healthy":
            problems.append(f"compose {init[0]}: must wait for {dep} to be healthy")
    instance_ids = []
    for name, target in compose_targets(compose, image).items():
        if target is None:
            continue
        deps = services[name].get("depends_on") or {}
        if (deps.get(init[0]) or {}).get("condition") != "service_completed_successfully":
            problems.append(f"compose {name}: must start after {init[0]} completed successfully")
        instance_ids.append(compose_env(services[name]).get("PORGATE_INSTANCE_ID"))
    if None in instance_ids or len(set(instance_ids)) != len(instance_ids):
        problems.append(f"compose: PORGATE_INSTANCE_ID missing or repeated: {instance_ids}")
    return problems


def compose_init_problems(compose: dict, image: Image) -> Problems:
    inits = [
        (n, s)
        for n, s in compose["services"].items()
        if uses_porgate_image(s) and compose_targets(compose, image)[n] is None
    ]
    if len(inits) != 1:
        return [f"compose: want one init service, got {[n for n, _ in inits]}"]
    name, svc = inits[0]
    invocations, bad = porgate_invocations(compose_argv(svc, image))
    return bad + init_problems(
        f"compose {name}", invocations, compose_env(svc), EXPECTED_REPLICATION["compose"]
    )


def compose_tracing_problems(compose: dict, image: Image) -> Problems:
    """Every running service exports its spans under a name of its own, to a compose service
    that is there, with exporter settings porgate accepts."""
    problems = []
    services = compose["services"]
    names = []
    for name, target in compose_targets(compose, image).items():
        if target is None:
            continue
        env = compose_env(services[name])
        names.append(env.get("OTEL_SERVICE_NAME"))
        try:
            exporters = requested_exporters(env)
        except ValueError as exc:
            problems.append(f"compose {name}: {exc}")
            continue
        if "otlp" not in exporters:
            problems.append(f"compose {name}: tracing is not exported over OTLP")
            continue
        host = urlsplit(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")).hostname
        if host not in services:
            problems.append(f"compose {name}: OTLP endpoint host {host!r} is no compose service")
    if None in names or len(set(names)) != len(names):
        problems.append(f"compose: OTEL_SERVICE_NAME missing or repeated: {names}")
    return problems
