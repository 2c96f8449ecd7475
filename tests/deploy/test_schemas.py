"""Every manifest under deploy/ validated strictly against Kubernetes' schemas (kubernetes-validate,
offline) and the custom resources against their CRDs' schemas (vendored, crd_schemas/); then
what the schemas cannot say: the autoscaling, the disruption budgets, the network policies."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.catalog import all_services
from services.common.runtime import group_id
from services.settings import Settings
from tests.deploy.linter.files import DEPLOY, SECRET_EXAMPLE

# The oldest Kubernetes release the manifests must apply to.
KUBERNETES_VERSION = "1.29"
CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
FOLDERS = (DEPLOY, DEPLOY / "monitoring", DEPLOY / "autoscaling")


def documents() -> list[tuple[str, dict]]:
    out = []
    for folder in FOLDERS:
        for path in sorted(folder.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and doc.get("kind") != "Kustomization":
                    out.append((f"{path.relative_to(DEPLOY)} {doc['kind']}", doc))
    return out


def strict(schema: dict) -> dict:
    """As kubeconform's strict mode: an object that lists its properties takes no others."""
    schema = copy.deepcopy(schema)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def crd_schema(doc: dict) -> dict | None:
    group_version = doc["apiVersion"].replace("/", "-")
    path = CRD_SCHEMAS / f"{doc['kind'].lower()}-{group_version}.json"
    return strict(json.loads(path.read_text())) if path.exists() else None


def validate(doc: dict) -> None:
    """Raises on any deviation from the kind's schema; a kind without a schema is an error."""
    group = doc["apiVersion"].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        schema = crd_schema(doc)
        if schema is None:
            raise AssertionError(f"no schema for {doc['apiVersion']} {doc['kind']}")
        jsonschema.Draft7Validator(schema).validate(doc)
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(("where", "doc"), documents(), ids=[w for w, _ in documents()])
def test_every_manifest_is_valid_against_its_schema(where, doc):
    validate(doc)


def test_a_misspelt_field_fails_the_validation():
    deployment = next(d for _, d in documents() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    scaled = next(d for _, d in documents() if d["kind"] == "ScaledObject")
    broken = copy.deepcopy(scaled)
    broken["spec"]["maxReplicas"] = 6
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def by_kind(kind: str) -> list[dict]:
    return [d for _, d in documents() if d["kind"] == kind]


def consumer_groups() -> dict[str, tuple[set[str], int]]:
    """Each consumer service: its groups, and the fewest partitions among its topics."""
    settings = Settings()
    return {
        s.name: (
            {group_id(settings, s, c) for c in s.consumers},
            min(t.partitions for c in s.consumers for t in c.topics),
        )
        for s in all_services(settings)
        if s.consumers
    }


def test_each_consumer_deployment_scales_on_its_groups_lag_never_past_its_partitions():
    deployments = {d["metadata"]["name"] for d in by_kind("Deployment")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in by_kind("ScaledObject")}
    services = consumer_groups()
    assert set(scaled) == set(services) and set(scaled) <= deployments
    auth = {a["metadata"]["name"] for a in by_kind("TriggerAuthentication")}
    for name, (groups, partitions) in services.items():
        spec = scaled[name]["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions, name
        triggers = spec["triggers"]
        assert {t["metadata"]["consumerGroup"] for t in triggers} == groups, name
        for trigger in triggers:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["allowIdleConsumers"] == "false"
            assert trigger["authenticationRef"]["name"] in auth


def test_keda_logs_in_to_kafka_as_porgate_does():
    config = next(c for c in by_kind("ConfigMap") if c["metadata"]["name"] == "porgate-config")
    secret = yaml.safe_load(SECRET_EXAMPLE.read_text())
    keda_names = {
        "PLAIN": "plaintext",
        "SCRAM-SHA-256": "scram_sha256",
        "SCRAM-SHA-512": "scram_sha512",
        "OAUTHBEARER": "oauthbearer",
    }
    mechanism = keda_names[config["data"]["PORGATE_KAFKA_SASL_MECHANISM"]]
    tls = config["data"]["PORGATE_KAFKA_SECURITY_PROTOCOL"] in ("SSL", "SASL_SSL")
    for scaled in by_kind("ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            metadata = trigger["metadata"]
            assert metadata["sasl"] == mechanism
            assert metadata["tls"] == ("enable" if tls else "disable")
            assert metadata["bootstrapServersFromEnv"] in config["data"]
    (auth,) = by_kind("TriggerAuthentication")
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
    assert {"PORGATE_KAFKA_SASL_USERNAME", "PORGATE_KAFKA_SASL_PASSWORD"} <= set(
        secret["stringData"]
    )


def test_with_keda_the_scaled_deployments_lose_their_replica_count():
    kustomization = yaml.safe_load((DEPLOY / "autoscaling" / "kustomization.yaml").read_text())
    assert ".." in kustomization["resources"]
    for resource in kustomization["resources"]:
        assert (DEPLOY / "autoscaling" / resource).exists()
    (patch,) = kustomization["patches"]
    targets = patch["target"]["name"].strip("^$()").split("|")
    assert sorted(targets) == sorted(consumer_groups())
    assert yaml.safe_load(patch["patch"]) == [{"op": "remove", "path": "/spec/replicas"}]


def test_every_deployment_has_a_disruption_budget_selecting_its_pods():
    budgets = by_kind("PodDisruptionBudget")
    for deployment in by_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selecting = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selecting) == 1, deployment["metadata"]["name"]
        assert selecting[0]["spec"].get("maxUnavailable") == 1


def test_network_policies_deny_by_default_and_open_only_served_ports():
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind("NetworkPolicy")}
    deny = policies["porgate-default-deny"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny and "egress" not in deny
    ports: dict[str, set] = {}
    for deployment in by_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for port in container.get("ports", []):
                ports.setdefault(port["name"], set()).add(port["containerPort"])
    for name, spec in policies.items():
        for rule in spec.get("ingress", []):
            for port in rule["ports"]:
                assert port["port"] in ports, f"{name}: port {port['port']} no container names"
    egress_ports = {p["port"] for r in policies["porgate-egress"]["egress"] for p in r["ports"]}
    assert {53, 5432, 443, 9092, 9093} <= egress_ports
