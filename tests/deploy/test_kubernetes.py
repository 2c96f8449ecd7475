"""deploy/ on its own: the pods' commands, their hardening and the objects that wire them."""

from __future__ import annotations

from tests.deploy.linter.kubernetes import (
    k8s_command_problems,
    k8s_pod_problems,
    k8s_wiring_problems,
)


def test_kubernetes_commands_are_porgate_commands(manifests, image) -> None:
    assert k8s_command_problems(manifests, image) == []


def test_kubernetes_pods_are_hardened_and_every_object_is_wired(manifests, image) -> None:
    assert k8s_pod_problems(manifests) == []
    assert k8s_wiring_problems(manifests, image) == []
