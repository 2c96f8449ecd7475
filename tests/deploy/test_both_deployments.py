"""What must hold for docker-compose.yml and deploy/ alike; each test checks both."""

from __future__ import annotations

import yaml

from tests.deploy.linter.compose import (
    compose_health_problems,
    compose_init_problems,
    compose_targets,
)
from tests.deploy.linter.files import (
    DOCKERFILE,
    compose_env,
    config_maps,
    load_compose,
    manifest_files,
    yaml_texts,
)
from tests.deploy.linter.kubernetes import (
    deployment_targets,
    k8s_init_problems,
    k8s_probe_problems,
)
from tests.deploy.linter.porgate import (
    coverage_problems,
    env_name_problems,
    uses_porgate_image,
    values_problems,
)
from tests.deploy.linter.topics import topic_leak_problems


def test_compose_file_and_every_manifest_parse_with_kind_and_api_version() -> None:
    assert isinstance(load_compose()["services"], dict)
    for path in manifest_files():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert docs, path
        for doc in docs:
            assert doc.get("kind") and doc.get("apiVersion"), f"{path}: {doc}"
    assert len(manifest_files()) >= 10


def test_every_service_runs_exactly_once_in_compose_and_in_kubernetes(
    compose, image, manifests
) -> None:
    assert coverage_problems("compose", list(compose_targets(compose, image).values())) == []
    assert coverage_problems("k8s", deployment_targets(manifests, image)) == []


def test_every_porgate_variable_in_the_deploy_files_is_a_settings_field() -> None:
    texts = {**yaml_texts(), "Dockerfile": DOCKERFILE.read_text()}
    assert env_name_problems(texts) == []


def test_porgate_values_in_compose_and_the_config_maps_parse_as_settings(
    compose, manifests
) -> None:
    problems = []
    for name, svc in compose["services"].items():
        if uses_porgate_image(svc):
            problems += values_problems(compose_env(svc), f"compose {name}")
    secret = next(m for m in manifests if m.get("kind") == "Secret")
    for cm_name, data in config_maps(manifests).items():
        problems += values_problems(
            {**data, **secret.get("stringData", {})}, f"ConfigMap {cm_name}"
        )
    assert problems == []


def test_healthchecks_and_probes_hit_ports_and_paths_the_process_serves(
    compose, image, manifests
) -> None:
    assert compose_health_problems(compose, image) == []
    assert k8s_probe_problems(manifests, image) == []


def test_init_creates_topics_from_the_contract(compose, image, manifests) -> None:
    assert compose_init_problems(compose, image) == []
    assert k8s_init_problems(manifests, image) == []
    assert topic_leak_problems(yaml_texts()) == []
