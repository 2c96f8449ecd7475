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


def test_pods_may_ask_kube_dns_and_nodelocal_dns_cache(manifests) -> None:
    # With NodeLocal DNSCache, pods' resolv.conf names 169.254.20.10, not kube-dns's pods.
    (egress,) = [
        m
        for m in manifests
        if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == "porgate-egress"
    ]
    dns = [
        rule
        for rule in egress["spec"]["egress"]
        if {"protocol": "UDP", "port": 53} in rule.get("ports", [])
    ]
    assert len(dns) == 1
    peers = dns[0]["to"]
    assert {"ipBlock": {"cidr": "169.254.20.10/32"}} in peers
    assert any(
        p.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"} for p in peers
    )
