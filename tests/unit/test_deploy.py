"""Static checks of Dockerfile, docker-compose.yml and deploy/ against the code.

No Docker engine or cluster is needed: the files are parsed and compared with what the code
defines (the typer CLI, services.registry, Settings, contracts.topics). Each check is a
function returning a list of problems, so the mutation tests at the bottom can prove that
every check catches what it is meant to catch.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from contracts.topics import ALL_TOPICS
from services.cli import app as cli_app
from services.common.config import Settings
from services.registry import SERVICE_MODULES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
SECRET_EXAMPLE = DEPLOY / "secret.example.yaml"

IMAGE = "porgate"
# What `porgate run X` serves, by port setting: the health server on PORGATE_HEALTH_PORT, or
# the API, which mounts the same health routes on PORGATE_API_PORT and starts no health server.
HEALTH_PATHS = {"/livez", "/readyz", "/healthz", "/metrics"}
API_PATHS = HEALTH_PATHS
LIVENESS_PATHS = {"/livez"}  # never a dependency check: an outage must not restart every pod
READINESS_PATHS = {"/readyz", "/healthz"}
EXPECTED_REPLICATION = {"compose": 1, "k8s": 3}

Problems = list[str]


# ----------------------------------------------------------------------------- loading


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


# ----------------------------------------------------------------------------- the code's side


def settings_env_names() -> set[str]:
    return {"PORGATE_" + name.upper() for name in Settings.model_fields}


def settings_default(field: str) -> Any:
    return Settings.model_fields[field].default


def runnable_services() -> set[str]:
    # "api" is served by `porgate run api` whether or not it joins SERVICE_MODULES.
    return set(SERVICE_MODULES) | {"api", "all"}


def cli_problems(args: list[str]) -> Problems:
    """Is `porgate ARGS` a command the typer app accepts, with a real service for `run`?"""
    if not args:
        return ["empty porgate command line"]
    command = typer.main.get_command(cli_app)
    rest = list(args)
    while True:
        sub = getattr(command, "commands", {}).get(rest[0]) if rest else None
        if sub is None:
            return [f"`porgate {' '.join(args)}`: no such command {rest[:1]}"]
        rest = rest[1:]
        if not hasattr(sub, "commands"):
            break
        command = sub
    try:
        ctx = sub.make_context(sub.name, rest)
    except Exception as exc:  # noqa: BLE001 - click's UsageError family; typer vendors click
        return [f"`porgate {' '.join(args)}`: {exc}"]
    if sub.name == "run" and ctx.params.get("service") not in runnable_services():
        return [f"`porgate {' '.join(args)}`: unknown service {ctx.params.get('service')!r}"]
    return []


def topics_replication(args: list[str], env: dict[str, str]) -> int:
    """The replication factor `porgate topics ARGS` would use with this environment."""
    ctx = typer.main.get_command(cli_app).commands["topics"].make_context("topics", list(args[1:]))
    if ctx.params.get("replication_factor"):
        return int(ctx.params["replication_factor"])
    return int(
        env.get("PORGATE_TOPIC_REPLICATION_FACTOR", settings_default("topic_replication_factor"))
    )


# ----------------------------------------------------------------------------- Dockerfile


def dockerfile_final_stage(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuations joined, comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    instructions = [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
    ]
    last_from = max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM")
    return instructions[last_from:]


def dockerfile_exec_form(stage: list[tuple[str, str]], instruction: str) -> list[str] | None:
    values = [args for ins, args in stage if ins == instruction]
    return json.loads(values[-1]) if values else None


def image_defaults() -> tuple[list[str], list[str]]:
    stage = dockerfile_final_stage(DOCKERFILE.read_text())
    return dockerfile_exec_form(stage, "ENTRYPOINT") or [], dockerfile_exec_form(stage, "CMD") or []


def dockerfile_problems(text: str) -> Problems:
    problems = []
    if sum(1 for line in text.splitlines() if line.strip().upper().startswith("FROM ")) < 2:
        problems.append("Dockerfile is not multi-stage")
    if not re.search(r"python:3\.11-slim", text):
        problems.append("Dockerfile does not build on python:3.11-slim")
    stage = dockerfile_final_stage(text)
    if dockerfile_exec_form(stage, "ENTRYPOINT") != ["porgate"]:
        problems.append('ENTRYPOINT is not exec-form ["porgate"]')
    if dockerfile_exec_form(stage, "CMD") != ["run", "all"]:
        problems.append('default CMD is not ["run", "all"]')
    users = [args for ins, args in stage if ins == "USER"]
    uid = users[-1].split(":")[0] if users else "root"
    # Numeric: the kubelet can only verify runAsNonRoot against a numeric uid.
    if not uid.isdigit() or int(uid) == 0:
        problems.append(f"final USER {uid!r} is not a numeric non-root uid")
    env_text = " ".join(args for ins, args in stage if ins == "ENV")
    for name in ("PORGATE_HEALTH_HOST", "PORGATE_API_HOST"):
        if not re.search(rf"\b{name}=0\.0\.0\.0\b", env_text):
            problems.append(f"{name}=0.0.0.0 not set: the port would be unreachable from outside")
    exposed = {int(p.split("/")[0]) for ins, args in stage if ins == "EXPOSE" for p in args.split()}
    for field in ("api_port", "health_port"):
        if settings_default(field) not in exposed:
            problems.append(f"EXPOSE lacks {field} {settings_default(field)}")
    checks = [args for ins, args in stage if ins == "HEALTHCHECK"]
    if (
        not checks
        or "/livez" not in checks[-1]
        or "python" not in checks[-1]
        or "curl" in checks[-1]
    ):
        problems.append("HEALTHCHECK must call /livez with python (slim has no curl)")
    return problems


# ----------------------------------------------------------------------------- command lines


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def porgate_invocations(argv: list[str]) -> tuple[list[list[str]], Problems]:
    """The `porgate ...` argument lists a container's argv runs, directly or via `sh -c`."""
    if argv[:1] == ["porgate"]:
        return [argv[1:]], []
    if argv[:2] in (["sh", "-c"], ["/bin/sh", "-c"]) and len(argv) == 3:
        out, problems = [], []
        for part in re.split(r"&&|;|\|\|", argv[2]):
            words = shlex.split(part)
            if words[:1] != ["porgate"]:
                problems.append(f"`{part.strip()}` in {argv!r} is not a porgate command")
            else:
                out.append(words[1:])
        return out, problems
    return [], [f"{argv!r} does not run porgate"]


def compose_argv(service: dict, image: tuple[list[str], list[str]]) -> list[str]:
    entrypoint, cmd = image
    if "entrypoint" in service:  # compose drops the image's CMD when entrypoint is overridden
        return as_list(service["entrypoint"]) + as_list(service.get("command"))
    return entrypoint + (as_list(service["command"]) if "command" in service else cmd)


def k8s_argv(container: dict, image: tuple[list[str], list[str]]) -> list[str]:
    entrypoint, cmd = image
    if "command" in container:  # Kubernetes drops the image's CMD when command is set
        return as_list(container["command"]) + as_list(container.get("args"))
    return entrypoint + (as_list(container["args"]) if "args" in container else cmd)


def uses_porgate_image(spec: dict) -> bool:
    image = str(spec.get("image", ""))
    return image.rsplit("/", 1)[-1].split(":")[0] == IMAGE or "build" in spec


def run_target(invocations: list[list[str]]) -> str | None:
    for args in invocations:
        if args[:1] == ["run"] and len(args) > 1:
            return args[1]
    return None


# ----------------------------------------------------------------------------- environment


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


def served_paths(target: str | None, env: dict[str, str]) -> dict[int, set[str]]:
    """Port -> paths a `porgate run TARGET` process answers, given its environment."""
    health = {int(env.get("PORGATE_HEALTH_PORT", settings_default("health_port"))): HEALTH_PATHS}
    api = {int(env.get("PORGATE_API_PORT", settings_default("api_port"))): API_PATHS}
    if target == "api":
        return api
    if target == "all":
        return {**health, **api}
    return health


def env_name_problems(texts: dict[str, str]) -> Problems:
    known = settings_env_names()
    return [
        f"{where}: {name} is not a Settings field"
        for where, text in texts.items()
        for name in sorted(set(re.findall(r"PORGATE_[A-Z0-9_]+", text)))
        if name not in known
    ]


# ----------------------------------------------------------------------------- compose checks


def compose_command_problems(compose: dict, image: tuple[list[str], list[str]]) -> Problems:
    problems = []
    for name, svc in compose["services"].items():
        if not uses_porgate_image(svc):
            continue
        invocations, bad = porgate_invocations(compose_argv(svc, image))
        problems += [f"compose {name}: {p}" for p in bad]
        for args in invocations:
            problems += [f"compose {name}: {p}" for p in cli_problems(args)]
    return problems


def compose_targets(compose: dict, image: tuple[list[str], list[str]]) -> dict[str, str | None]:
    return {
        name: run_target(porgate_invocations(compose_argv(svc, image))[0])
        for name, svc in compose["services"].items()
        if uses_porgate_image(svc)
    }


def coverage_problems(where: str, targets: list[str | None]) -> Problems:
    problems = []
    for service in [*SERVICE_MODULES, "api"]:
        count = targets.count(service)
        if count != 1:
            problems.append(f"{where}: {count} runners of `porgate run {service}`, want exactly 1")
    if "all" in targets:
        problems.append(
            f"{where}: `porgate run all` next to the per-service runners consumes everything twice"
        )
    return problems


def compose_health_problems(compose: dict, image: tuple[list[str], list[str]]) -> Problems:
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


def compose_wiring_problems(compose: dict, image: tuple[list[str], list[str]]) -> Problems:
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


# ----------------------------------------------------------------------------- k8s checks


def k8s_command_problems(manifests: list[dict], image: tuple[list[str], list[str]]) -> Problems:
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


def deployment_targets(
    manifests: list[dict], image: tuple[list[str], list[str]]
) -> list[str | None]:
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


def k8s_probe_problems(manifests: list[dict], image: tuple[list[str], list[str]]) -> Problems:
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


def k8s_wiring_problems(manifests: list[dict], image: tuple[list[str], list[str]]) -> Problems:
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

    pdbs = [
        p
        for p in by_kind.get("PodDisruptionBudget", [])
        if selects(p["spec"]["selector"]["matchLabels"], "por-validator")
    ]
    if len(pdbs) != 1:
        problems.append(f"want one PodDisruptionBudget selecting por-validator, got {len(pdbs)}")
    services = [
        s for s in by_kind.get("Service", []) if selects(s["spec"].get("selector") or {}, "api")
    ]
    if len(services) != 1:
        problems.append(f"want one Service selecting the api pods, got {len(services)}")
    else:
        api = selects(services[0]["spec"]["selector"], "api")[0]["spec"]["template"]["spec"][
            "containers"
        ][0]
        served = served_paths("api", container_env(api, manifests))
        for port in services[0]["spec"]["ports"]:
            if resolve_port(port.get("targetPort", port["port"]), api) not in served:
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


# ----------------------------------------------------------------------------- topics


def init_problems(
    where: str, invocations: list[list[str]], env: dict[str, str], replication: int
) -> Problems:
    """The init step migrates, then creates topics (their settings: contracts.topics)."""
    names = [args[0] for args in invocations if args]
    if "migrate" not in names or "topics" not in names:
        return [f"{where}: must run `porgate migrate` and `porgate topics`, runs {invocations}"]
    problems = []
    if names.index("migrate") > names.index("topics"):
        problems.append(f"{where}: topics before migrate")
    topics = next(args for args in invocations if args[:1] == ["topics"])
    got = topics_replication(topics, env)
    if got != replication:
        problems.append(f"{where}: replication factor {got}, want {replication}")
    return problems


def compose_init_problems(compose: dict, image: tuple[list[str], list[str]]) -> Problems:
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


def k8s_init_problems(manifests: list[dict], image: tuple[list[str], list[str]]) -> Problems:
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


TOPIC_SETTING = re.compile(
    r"num[._]partitions|partitions\s*[:=]|--partitions|retention[._](ms|bytes|hours|minutes)|cleanup[._]policy",
    re.IGNORECASE,
)


def topic_leak_problems(texts: dict[str, str]) -> Problems:
    """Topic names and settings belong to contracts/topics.py alone."""
    problems = []
    for where, text in texts.items():
        for topic in ALL_TOPICS:
            if topic.name in text:
                problems.append(
                    f"{where}: names topic {topic.name}; its settings live in contracts/topics.py"
                )
        for match in TOPIC_SETTING.finditer(text):
            problems.append(f"{where}: topic setting {match.group(0)!r}; use `porgate topics`")
    return problems


def values_problems(env: dict[str, str], where: str) -> Problems:
    """The values parse as Settings (a bad date, port or gateway name is caught here)."""
    fields = {
        k.removeprefix("PORGATE_").lower(): v for k, v in env.items() if k.startswith("PORGATE_")
    }
    try:
        Settings(**fields)
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError
        return [f"{where}: {exc}"]
    return []


# ============================================================================= tests


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return load_manifests()


@pytest.fixture(scope="module")
def image() -> tuple[list[str], list[str]]:
    return image_defaults()


def test_everything_parses() -> None:
    assert isinstance(load_compose()["services"], dict)
    for path in manifest_files():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert docs, path
        for doc in docs:
            assert doc.get("kind") and doc.get("apiVersion"), f"{path}: {doc}"
    assert len(manifest_files()) >= 10


def test_dockerfile() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []
    assert image_defaults() == (["porgate"], ["run", "all"])


def test_dockerignore_keeps_what_the_wheel_needs() -> None:
    # An allow-list: the build context has the package sources, pyproject and README only.
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("!pyproject.toml", "!README.md", "!contracts/", "!services/"):
        assert needed in lines


def test_compose_commands_are_porgate_commands(compose, image) -> None:
    assert compose_command_problems(compose, image) == []


def test_k8s_commands_are_porgate_commands(manifests, image) -> None:
    assert k8s_command_problems(manifests, image) == []


def test_every_service_runs_once(compose, image, manifests) -> None:
    assert coverage_problems("compose", list(compose_targets(compose, image).values())) == []
    assert coverage_problems("k8s", deployment_targets(manifests, image)) == []


def test_porgate_env_names_are_settings() -> None:
    texts = {**yaml_texts(), "Dockerfile": DOCKERFILE.read_text()}
    assert env_name_problems(texts) == []


def test_env_values_parse_as_settings(compose, manifests) -> None:
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


def test_health_checks_hit_served_ports(compose, image, manifests) -> None:
    assert compose_health_problems(compose, image) == []
    assert k8s_probe_problems(manifests, image) == []


def test_compose_wiring(compose, image) -> None:
    assert compose_wiring_problems(compose, image) == []


def test_k8s_pods_and_wiring(manifests, image) -> None:
    assert k8s_pod_problems(manifests) == []
    assert k8s_wiring_problems(manifests, image) == []


def test_init_creates_topics_from_the_contract(compose, image, manifests) -> None:
    assert compose_init_problems(compose, image) == []
    assert k8s_init_problems(manifests, image) == []
    assert topic_leak_problems(yaml_texts()) == []


# ----------------------------------------------------------------------------- each check can fail


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
    "api healthcheck on the health port": (
        compose_health_problems,
        lambda c: _set(
            _compose_service(c, "api"),
            "healthcheck",
            {"test": ["CMD", "python", "-c", "urlopen('http://127.0.0.1:9100/livez')"]},
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
    "instance id repeated": (
        compose_wiring_problems,
        lambda c: _compose_service(c, "notifier")["environment"].update(
            PORGATE_INSTANCE_ID="order-intake"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(COMPOSE_MUTATIONS))
def test_compose_checks_catch(case, compose, image) -> None:
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
    "api probe on the health port": (
        k8s_probe_problems,
        lambda m: _set(
            _container(m, "api"), "readinessProbe", {"httpGet": {"path": "/healthz", "port": 9100}}
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
def test_k8s_checks_catch(case, manifests, image) -> None:
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


def test_topic_leak_check_catches_partitions() -> None:
    topic = ALL_TOPICS[0]
    assert topic_leak_problems({"x.yaml": f"kafka-topics.sh --create --topic {topic.name}"})
    assert topic_leak_problems({"x.yaml": "KAFKA_NUM_PARTITIONS: 6"})
    assert topic_leak_problems({"x.yaml": "retention.ms: 1000"})


@pytest.mark.parametrize(
    "edit",
    [
        ('ENTRYPOINT ["porgate"]', 'ENTRYPOINT ["python", "-m", "services.cli"]'),
        ("USER 10001:10001", "USER root"),
        ("USER 10001:10001", "USER porgate"),
        ("USER 10001:10001", ""),
        ("PORGATE_HEALTH_HOST=0.0.0.0", "PORGATE_HEALTH_HOST=127.0.0.1"),
        ("EXPOSE 8080 9100", "EXPOSE 8080"),
        ("/livez", "/healthz"),
    ],
)
def test_dockerfile_check_catches(edit) -> None:
    text = DOCKERFILE.read_text()
    assert edit[0] in text
    assert dockerfile_problems(text.replace(edit[0], edit[1]))
