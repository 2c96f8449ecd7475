"""Each check of the linter fails on a broken copy of the files it reads.

A check that passes on the real files proves nothing unless it also fails when what it
guards is broken: every case below breaks one thing in a deep copy and expects problems.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contracts.topics import ALL_TOPICS
from tests.deploy.linter.compose import (
    compose_command_problems,
    compose_health_problems,
    compose_init_problems,
    compose_targets,
    compose_tracing_problems,
    compose_wiring_problems,
)
from tests.deploy.linter.dockerfile import dockerfile_problems
from tests.deploy.linter.files import DOCKERFILE, SECRET_EXAMPLE, yaml_texts
from tests.deploy.linter.kubernetes import (
    deployment_targets,
    k8s_command_problems,
    k8s_init_problems,
    k8s_pod_problems,
    k8s_probe_problems,
    k8s_wiring_problems,
)
from tests.deploy.linter.porgate import coverage_problems, env_name_problems, values_problems
from tests.deploy.linter.topics import topic_leak_problems


def _compose_service(compose: dict, name: str) -> dict:
    return compose["services"][name]


def _deployment(manifests: list[dict], name: str) -> dict:
    return next(
        m for m in manifests if m.get("kind") == "Deployment" and m["metadata"]["name"] == name
    )


def _container(manifests: list[dict], name: str) -> dict:
    return _deployment(manifests, name)["spec"]["template"]["spec"]["containers"][0]


def _job_container(manifests: list[dict]) -> dict:
    return next(m for m in manifests if m.get("kind") == "Job")["spec"]["template"]["spec"][
        "containers"
    ][0]


def _set(d: dict, key: str, value: Any) -> None:
    d[key] = value


def _drop_replication_setting(manifests: list[dict]) -> None:
    """Leave `porgate topics` on Settings' default of 1 replica."""
    _job_container(manifests)["env"] = []
    next(m for m in manifests if m.get("kind") == "ConfigMap")["data"].pop(
        "PORGATE_TOPIC_REPLICATION_FACTOR"
    )


COMPOSE_MUTATIONS = {
    "unknown service": (
        compose_command_problems,
        lambda c: _set(_compose_service(c, "notifier"), "command", ["run", "notifyer"]),
    ),
    "unknown command": (
        compose_command_problems,
        lambda c: _set(_compose_service(c, "order-intake"), "command", ["serve", "order-intake"]),
    ),
    "unknown option": (
        compose_command_problems,
        lambda c: _set(
            _compose_service(c, "init"),
            "command",
            ["porgate migrate && porgate topics --partitions 3"],
        ),
    ),
    "shell step not porgate": (
        compose_command_problems,
        lambda c: _set(
            _compose_service(c, "init"), "command", ["porgate migrate && kafka-topics.sh --create"]
        ),
    ),
    "service missing": (
        lambda c, i: coverage_problems("compose", list(compose_targets(c, i).values())),
        lambda c: c["services"].pop("gdap-revoker"),
    ),
    "service twice": (
        lambda c, i: coverage_problems("compose", list(compose_targets(c, i).values())),
        lambda c: _set(
            c["services"], "por-validator-2", copy.deepcopy(_compose_service(c, "por-validator"))
        ),
    ),
    "run all beside the others": (
        lambda c, i: coverage_problems("compose", list(compose_targets(c, i).values())),
        lambda c: _set(
            c["services"], "everything", {**_compose_service(c, "api"), "command": ["run", "all"]}
        ),
    ),
    "healthcheck on the wrong port": (
        compose_health_problems,
        lambda c: _set(
            _compose_service(c, "notifier"),
            "healthcheck",
            {"test": ["CMD", "python", "-c", "urlopen('http://127.0.0.1:8080/healthz')"]},
        ),
    ),
    "healthcheck port moved by env": (
        compose_health_problems,
        lambda c: _compose_service(c, "notifier")["environment"].update(PORGATE_HEALTH_PORT="9200"),
    ),
    "api healthcheck on metrics": (
        compose_health_problems,
        lambda c: _set(
            _compose_service(c, "api"),
            "healthcheck",
            {"test": ["CMD", "python", "-c", "urlopen('http://127.0.0.1:8080/metrics')"]},
        ),
    ),
    "healthcheck disabled": (
        compose_health_problems,
        lambda c: _set(_compose_service(c, "order-intake"), "healthcheck", {"disable": True}),
    ),
    "init skips topics": (
        compose_init_problems,
        lambda c: _set(_compose_service(c, "init"), "command", ["porgate migrate"]),
    ),
    "init topics before migrate": (
        compose_init_problems,
        lambda c: _set(
            _compose_service(c, "init"), "command", ["porgate topics && porgate migrate"]
        ),
    ),
    "compose replication 3": (
        compose_init_problems,
        lambda c: _compose_service(c, "init")["environment"].update(
            PORGATE_TOPIC_REPLICATION_FACTOR="3"
        ),
    ),
    "compose replication flag": (
        compose_init_problems,
        lambda c: _set(
            _compose_service(c, "init"),
            "command",
            ["porgate migrate && porgate topics --replication-factor 2"],
        ),
    ),
    "auto-create topics": (
        compose_wiring_problems,
        lambda c: _compose_service(c, "kafka")["environment"].update(
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="true"
        ),
    ),
    "service not after init": (
        compose_wiring_problems,
        lambda c: _set(_compose_service(c, "notifier"), "depends_on", {}),
    ),
    "init not after kafka": (
        compose_wiring_problems,
        lambda c: _compose_service(c, "init")["depends_on"].pop("kafka"),
    ),
    "grafana image unpinned": (
        compose_wiring_problems,
        lambda c: _set(_compose_service(c, "grafana"), "image", "grafana/grafana:latest"),
    ),
    "prometheus image untagged": (
        compose_wiring_problems,
        lambda c: _set(_compose_service(c, "prometheus"), "image", "prom/prometheus"),
    ),
    "instance id repeated": (
        compose_wiring_problems,
        lambda c: _compose_service(c, "notifier")["environment"].update(
            PORGATE_INSTANCE_ID="order-intake"
        ),
    ),
    "trace service name repeated": (
        compose_tracing_problems,
        lambda c: _compose_service(c, "notifier")["environment"].update(
            OTEL_SERVICE_NAME="porgate-order-intake"
        ),
    ),
    "traces exported nowhere": (
        compose_tracing_problems,
        lambda c: _compose_service(c, "notifier")["environment"].update(
            OTEL_TRACES_EXPORTER="none"
        ),
    ),
    "unknown trace exporter": (
        compose_tracing_problems,
        lambda c: _compose_service(c, "api")["environment"].update(OTEL_TRACES_EXPORTER="zipkin"),
    ),
    "trace collector missing": (
        compose_tracing_problems,
        lambda c: c["services"].pop("jaeger"),
    ),
    "jaeger image unpinned": (
        compose_wiring_problems,
        lambda c: _set(_compose_service(c, "jaeger"), "image", "jaegertracing/jaeger:latest"),
    ),
}


@pytest.mark.parametrize("case", sorted(COMPOSE_MUTATIONS))
def test_each_compose_check_fails_on_a_broken_copy(case, compose, image) -> None:
    check, mutate = COMPOSE_MUTATIONS[case]
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert check(broken, image), case


K8S_MUTATIONS = {
    "unknown service": (
        k8s_command_problems,
        lambda m: _set(_container(m, "notifier"), "args", ["run", "notifyer"]),
    ),
    "unknown command": (
        k8s_command_problems,
        lambda m: _set(_container(m, "api"), "args", ["serve"]),
    ),
    "command replaces entrypoint": (
        k8s_command_problems,
        lambda m: _set(_container(m, "api"), "command", ["python"]),
    ),
    "service missing": (
        lambda m, i: coverage_problems("k8s", deployment_targets(m, i)),
        lambda m: m.remove(_deployment(m, "subscription-change")),
    ),
    "service twice": (
        lambda m, i: coverage_problems("k8s", deployment_targets(m, i)),
        lambda m: _set(_container(m, "notifier"), "args", ["run", "order-intake"]),
    ),
    "liveness on the api port": (
        k8s_probe_problems,
        lambda m: _set(
            _container(m, "order-intake"),
            "livenessProbe",
            {"httpGet": {"path": "/livez", "port": 8080}},
        ),
    ),
    "liveness on a dependency check": (
        k8s_probe_problems,
        lambda m: _set(
            _container(m, "order-intake"),
            "livenessProbe",
            {"httpGet": {"path": "/healthz", "port": "health"}},
        ),
    ),
    "readiness missing": (
        k8s_probe_problems,
        lambda m: _container(m, "por-validator").pop("readinessProbe"),
    ),
    "health port moved in the ConfigMap": (
        k8s_probe_problems,
        lambda m: next(x for x in m if x.get("kind") == "ConfigMap")["data"].update(
            PORGATE_HEALTH_PORT="9200"
        ),
    ),
    "api probe on a port it does not serve": (
        k8s_probe_problems,
        lambda m: _set(
            _container(m, "api"), "readinessProbe", {"httpGet": {"path": "/healthz", "port": 9200}}
        ),
    ),
    "api liveness on a dependency check": (
        k8s_probe_problems,
        lambda m: _set(
            _container(m, "api"), "livenessProbe", {"httpGet": {"path": "/healthz", "port": "http"}}
        ),
    ),
    "unknown named port": (
        k8s_probe_problems,
        lambda m: _set(
            _container(m, "notifier"),
            "readinessProbe",
            {"httpGet": {"path": "/readyz", "port": "metrics"}},
        ),
    ),
    "root": (
        lambda m, i: k8s_pod_problems(m),
        lambda m: _deployment(m, "notifier")["spec"]["template"]["spec"]["securityContext"].update(
            runAsNonRoot=False
        ),
    ),
    "no limits": (
        lambda m, i: k8s_pod_problems(m),
        lambda m: _container(m, "gdap-revoker")["resources"].pop("limits"),
    ),
    "no secret": (
        lambda m, i: k8s_pod_problems(m),
        lambda m: _container(m, "api")["envFrom"].pop(),
    ),
    "no pdb": (
        k8s_wiring_problems,
        lambda m: m.remove(next(x for x in m if x.get("kind") == "PodDisruptionBudget")),
    ),
    "service to the wrong port": (
        k8s_wiring_problems,
        lambda m: next(x for x in m if x.get("kind") == "Service")["spec"]["ports"][0].update(
            targetPort=9100
        ),
    ),
    "example secret applied": (
        k8s_wiring_problems,
        lambda m: next(x for x in m if x.get("kind") == "Kustomization")["resources"].append(
            SECRET_EXAMPLE.name
        ),
    ),
    "job skips topics": (
        k8s_init_problems,
        lambda m: _set(_job_container(m), "args", ["porgate migrate"]),
    ),
    "job replication 1": (k8s_init_problems, _drop_replication_setting),
    "job replication flag": (
        k8s_init_problems,
        lambda m: _set(
            _job_container(m), "args", ["porgate migrate && porgate topics --replication-factor 1"]
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(K8S_MUTATIONS))
def test_each_kubernetes_check_fails_on_a_broken_copy(case, manifests, image) -> None:
    check, mutate = K8S_MUTATIONS[case]
    broken = copy.deepcopy(manifests)
    mutate(broken)
    assert check(broken, image), case


def test_env_name_check_catches_a_typo() -> None:
    texts = yaml_texts()
    where = "deploy/configmap.yaml"
    texts[where] = texts[where].replace("PORGATE_HEALTH_PORT", "PORGATE_HEALTHPORT")
    assert env_name_problems(texts)


def test_values_check_catches_a_bad_value() -> None:
    assert values_problems({"PORGATE_GDAP_GATEWAY": "graphql"}, "x")
    assert values_problems({"PORGATE_HEALTH_PORT": "nine"}, "x")
    assert values_problems({"PORGATE_ENFORCEMENT_START": "2025-12-01"}, "x")  # no time zone


def test_topic_leak_check_catches_topic_names_and_topic_settings() -> None:
    topic = ALL_TOPICS[0]
    assert topic_leak_problems({"x.yaml": f"kafka-topics.sh --create --topic {topic.name}"})
    assert topic_leak_problems({"x.yaml": "KAFKA_NUM_PARTITIONS: 6"})
    assert topic_leak_problems({"x.yaml": "retention.ms: 1000"})


DOCKERFILE_EDITS = {
    "entrypoint not porgate": (
        'ENTRYPOINT ["porgate"]',
        'ENTRYPOINT ["python", "-m", "services.cli"]',
    ),
    "user root": ("USER 10001:10001", "USER root"),
    "user by name": ("USER 10001:10001", "USER porgate"),
    "no user": ("USER 10001:10001", ""),
    "health host on loopback": ("PORGATE_HEALTH_HOST=0.0.0.0", "PORGATE_HEALTH_HOST=127.0.0.1"),
    "health port not exposed": ("EXPOSE 8080 9100", "EXPOSE 8080"),
    "healthcheck not on livez": ("/livez", "/healthz"),
}


@pytest.mark.parametrize("case", sorted(DOCKERFILE_EDITS))
def test_dockerfile_check_fails_on_each_broken_edit(case) -> None:
    old, new = DOCKERFILE_EDITS[case]
    text = DOCKERFILE.read_text()
    assert old in text
    assert dockerfile_problems(text.replace(old, new))
