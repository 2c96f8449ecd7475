"""Where the deployment files are, and what a container reads from them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
SECRET_EXAMPLE = DEPLOY / "secret.example.yaml"


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def manifest_files() -> list[Path]:
    return sorted(DEPLOY.glob("*.yaml"))


def load_manifests(include_example: bool = True) -> list[dict]:
    docs = []
    for path in manifest_files():
        if path == SECRET_EXAMPLE and not include_example:
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def resources(manifests: list[dict]) -> list[dict]:
    """The workload objects, without kustomization.yaml."""
    return [m for m in manifests if m.get("kind") != "Kustomization"]


def yaml_texts() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in [COMPOSE, *manifest_files()]}


def interpolate(value: Any) -> str:
    """Compose's ${VAR:-default} / ${VAR-default}, resolved to the default (host env ignored)."""
    return re.sub(
        r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", str(value)
    )


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(v) for k, v in env.items()}


def config_maps(manifests: list[dict]) -> dict[str, dict[str, str]]:
    return {
        m["metadata"]["name"]: m.get("data") or {}
        for m in manifests
        if m.get("kind") == "ConfigMap"
    }


def pod_templates(manifests: list[dict]) -> list[tuple[dict, dict]]:
    """(workload, pod spec) for every Deployment, Job, StatefulSet and DaemonSet."""
    out = []
    for m in resources(manifests):
        if m.get("kind") in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            out.append((m, m["spec"]["template"]["spec"]))
    return out


def container_env(container: dict, manifests: list[dict]) -> dict[str, str]:
    """What the container sees from its ConfigMaps and literal env (Secrets hold no ports)."""
    env: dict[str, str] = {}
    cms = config_maps(manifests)
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(cms.get(source["configMapRef"]["name"], {}))
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
    return env
