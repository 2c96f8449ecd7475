"""deploy/: the Kubernetes pods' commands, probes, security and resources, and their wiring."""

from __future__ import annotations

from typing import Any

from tests.deploy.linter.dockerfile import Image
from tests.deploy.linter.files import (
    SECRET_EXAMPLE,
    container_env,
    manifest_files,
    pod_templates,
    resources,
)
from tests.deploy.linter.porgate import (
    Problems,
    as_list,
    cli_problems,
    porgate_invocations,
    run_target,
    served_paths,
    settings_default,
    uses_porgate_image,
)
from tests.deploy.linter.topics import EXPECTED_REPLICATION, init_problems

LIVENESS_PATHS = {"/livez"}  # never a dependency check: an outage must not restart every pod
READINESS_PATHS = {"/readyz", "/healthz"}


def k8s_argv(container: dict, image: Image) -> list[str]:
    entrypoint, cmd = image
    if "command" in container:  # Kubernetes drops the image's CMD when command is set
        return as_list(container["command"]) + as_list(container.get("args"))
    return entrypoint + (as_list(container["args"]) if "args" in container else cmd)


def k8s_command_problems(manifests: list[dict], image: Image) -> Problems:
    problems = []
    for workload, pod in pod_templates(manifests):
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{workload['kind']} {workload['metadata']['name']}/{c['name']}"
            if not uses_porgate_image(c):
                problems.append(f"{where}: image {c.get('image')!r} is not porgate")
                continue
            invocations, bad = porgate_invocations(k8s_argv(c, image))
            problems += [f"{where}: {p}" for p in bad]
            for args in invocations:
                problems += [f"{where}: {p}" for p in cli_problems(args)]
    return problems


def deployment_targets(manifests: list[dict], image: Image) -> list[str | None]:
    return [
        run_target(porgate_invocations(k8s_argv(c, image))[0])
        for workload, pod in pod_templates(manifests)
        if workload["kind"] == "Deployment"
        for c in pod["containers"]
    ]


def resolve_port(port: Any, container: dict) -> int | None:
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return int(port) if str(port).isdigit() else None


def k8s_probe_problems(manifests: list[dict], image: Image) -> Problems:
    problems = []
    for workload, pod in pod_templates(manifests):
        if workload["kind"] != "Deployment":
            continue
        for c in pod["containers"]:
            where = f"Deployment {workload['metadata']['name']}"
            target = run_target(porgate_invocations(k8s_argv(c, image))[0])
            served = served_paths(target, container_env(c, manifests))
            declared = {int(p["containerPort"]) for p in c.get("ports") or []}
            if not set(served) <= declared:
                problems.append(
                    f"{where}: containerPorts {declared} do not include served {set(served)}"
                )
            for kind, allowed in (
                ("livenessProbe", LIVENESS_PATHS),
                ("readinessProbe", READINESS_PATHS),
                ("startupProbe", LIVENESS_PATHS),
            ):
                probe = c.get(kind)
                if probe is None:
                    if kind != "startupProbe":
                        problems.append(f"{where}: no {kind}")
                    continue
                if "httpGet" in probe:
                    port, path = (
                        resolve_port(probe["httpGet"]["port"], c),
                        probe["httpGet"].get("path"),
                    )
                    if path not in served.get(port, set()):
                        problems.append(
                            f"{where}: {kind} {port}{path} not served by `run {target}` ({served})"
                        )
                    elif path not in allowed:
                        problems.append(f"{where}: {kind} on {path}, want one of {sorted(allowed)}")
                elif "tcpSocket" in probe:
                    if kind == "readinessProbe":
                        problems.append(
                            f"{where}: readiness must check broker and database over HTTP"
                        )
                    if resolve_port(probe["tcpSocket"]["port"], c) not in served:
                        problems.append(
                            f"{where}: {kind} TCP port is not one `run {target}` listens on"
                        )
                else:
                    problems.append(f"{where}: {kind} is neither httpGet nor tcpSocket")
            scrape = (
                workload["spec"]["template"].get("metadata", {}).get("annotations") or {}
            ).get("prometheus.io/port")
            if scrape is not None and int(scrape) not in served:
                problems.append(
                    f"{where}: prometheus.io/port {scrape} is not where /metrics is served"
                )
    return problems


def k8s_pod_problems(manifests: list[dict]) -> Problems:
    """Non-root, bounded resources, config from the ConfigMap and the Secret."""
    problems = []
    for workload, pod in pod_templates(manifests):
        where = f"{workload['kind']} {workload['metadata']['name']}"
        pod_sc = pod.get("securityContext") or {}
        for c in pod["containers"]:
            sc = {**pod_sc, **(c.get("securityContext") or {})}
            if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") == 0:
                problems.append(f"{where}: not runAsNonRoot")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation not false")
            res = c.get("resources") or {}
            for bound in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(bound) or {}):
                    problems.append(f"{where}: resources.{bound} needs cpu and memory")
            sources = {next(iter(s)) for s in c.get("envFrom") or []}
            if sources != {"configMapRef", "secretRef"}:
                problems.append(
                    f"{where}: envFrom should be the ConfigMap and the Secret, got {sources}"
                )
    return problems


def k8s_wiring_problems(manifests: list[dict], image: Image) -> Problems:
    problems = []
    objs = resources(manifests)
    by_kind: dict[str, list[dict]] = {}
    for m in objs:
        by_kind.setdefault(m["kind"], []).append(m)

    def selects(selector: dict, name: str) -> list[dict]:
        return [
            d
            for d in by_kind.get("Deployment", [])
            if d["metadata"]["name"] == name
            and selector.items() <= (d["spec"]["template"]["metadata"].get("labels") or {}).items()
        ]

    for deployment in by_kind.get("Deployment", []):
        name = deployment["metadata"]["name"]
        pdbs = [
            p
            for p in by_kind.get("PodDisruptionBudget", [])
            if selects(p["spec"]["selector"]["matchLabels"], name)
        ]
        if len(pdbs) != 1:
            problems.append(f"want one PodDisruptionBudget selecting {name}, got {len(pdbs)}")
    services = [
        s for s in by_kind.get("Service", []) if selects(s["spec"].get("selector") or {}, "api")
    ]
    if len(services) != 1:
        problems.append(f"want one Service selecting the api pods, got {len(services)}")
    else:
        api = selects(services[0]["spec"]["selector"], "api")[0]["spec"]["template"]["spec"][
            "containers"
        ][0]
        env = container_env(api, manifests)
        api_port = int(env.get("PORGATE_API_PORT", settings_default("api_port")))
        for port in services[0]["spec"]["ports"]:
            # The API port only: the health port (metrics) is not for the Service's clients.
            if resolve_port(port.get("targetPort", port["port"]), api) != api_port:
                problems.append(
                    f"Service {services[0]['metadata']['name']}: targetPort is not the API port"
                )
    jobs = by_kind.get("Job", [])
    if len(jobs) != 1:
        problems.append(f"want exactly one init Job, got {len(jobs)}")
    kustomizations = [m for m in manifests if m.get("kind") == "Kustomization"]
    listed = set(kustomizations[0].get("resources") or []) if kustomizations else set()
    present = {p.name for p in manifest_files()} - {"kustomization.yaml", SECRET_EXAMPLE.name}
    if listed != present:
        problems.append(f"kustomization resources {sorted(listed)} != files {sorted(present)}")
    if SECRET_EXAMPLE.name in listed:
        problems.append("the example Secret must not be applied")
    return problems


def k8s_init_problems(manifests: list[dict], image: Image) -> Problems:
    jobs = [(w, pod) for w, pod in pod_templates(manifests) if w["kind"] == "Job"]
    if len(jobs) != 1:
        return [f"k8s: want one init Job, got {len(jobs)}"]
    workload, pod = jobs[0]
    problems, invocations = [], []
    env: dict[str, str] = {}
    for c in [*pod.get("initContainers", []), *pod["containers"]]:
        got, bad = porgate_invocations(k8s_argv(c, image))
        invocations += got
        problems += bad
        env.update(container_env(c, manifests))
    return problems + init_problems(
        f"Job {workload['metadata']['name']}", invocations, env, EXPECTED_REPLICATION["k8s"]
    )
