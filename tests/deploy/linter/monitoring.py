"""Alerts and dashboards: the rule file, its PrometheusRule copy, the scrape wiring in compose
and Kubernetes, the Grafana files, and the runbooks the alerts point at (docs/alerts.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.deploy.linter.compose import compose_targets
from tests.deploy.linter.dockerfile import Image
from tests.deploy.linter.files import DEPLOY, ROOT, compose_env, container_env, pod_templates
from tests.deploy.linter.kubernetes import k8s_argv, resolve_port
from tests.deploy.linter.porgate import (
    Problems,
    porgate_invocations,
    run_target,
    served_paths,
)

RULES = DEPLOY / "prometheus" / "porgate-rules.yml"
RULES_TESTS = DEPLOY / "prometheus" / "porgate-rules.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
MONITORING = DEPLOY / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheus-rule.yaml"
GRAFANA = DEPLOY / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
RUNBOOKS = ROOT / "docs" / "alerts.md"
JOB = "porgate"  # the job every alert selects, in compose and on Kubernetes
SEVERITIES = {"critical", "warning"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass
class Monitoring:
    """The files, parsed; a test that breaks one breaks a deep copy."""

    rules: dict
    prometheus_rule: dict
    k8s: list[dict]  # deploy/monitoring/*.yaml
    prometheus_config: dict
    dashboards: dict[str, dict]
    grafana_provisioning: dict[str, dict]  # path under provisioning/ -> parsed


def load_monitoring() -> Monitoring:
    return Monitoring(
        rules=yaml.safe_load(RULES.read_text()),
        prometheus_rule=yaml.safe_load(PROMETHEUS_RULE.read_text()),
        k8s=[
            d
            for p in sorted(MONITORING.glob("*.yaml"))
            for d in yaml.safe_load_all(p.read_text())
            if d
        ],
        prometheus_config=yaml.safe_load(PROMETHEUS_CONFIG.read_text()),
        dashboards={p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))},
        grafana_provisioning={
            str(p.relative_to(GRAFANA / "provisioning")): yaml.safe_load(p.read_text())
            for p in sorted((GRAFANA / "provisioning").rglob("*.yml"))
        },
    )


# ----------------------------------------------------------------------------- promtool


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """promtool from Debian's `prometheus` package (`.ci/run` installs it)."""
    exe = shutil.which("promtool")
    if exe is None:
        raise AssertionError(
            "promtool not found: `apt-get install prometheus` (Debian), as .ci/run does"
        )
    return subprocess.run(
        [exe, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


# ----------------------------------------------------------------------------- expressions


def alerts(rules: dict) -> list[dict]:
    return [r for g in rules.get("groups") or [] for r in g.get("rules") or [] if "alert" in r]


def rule_exprs(rules: dict) -> dict[str, str]:
    return {
        f"rule {r.get('alert') or r.get('record')}": str(r["expr"])
        for g in rules.get("groups") or []
        for r in g.get("rules") or []
    }


def _panels(panels: list[dict]) -> list[dict]:
    out = []
    for p in panels:
        out += [p, *_panels(p.get("panels") or [])]  # a collapsed row holds its panels
    return out


def dashboard_exprs(name: str, dashboard: dict) -> dict[str, str]:
    exprs = {
        f"{name} panel {p.get('title')!r} {t.get('refId')}": t["expr"]
        for p in _panels(dashboard.get("panels") or [])
        for t in p.get("targets") or []
        if "expr" in t
    }
    for v in (dashboard.get("templating") or {}).get("list") or []:
        if v.get("type") == "query":
            query = v.get("query")
            exprs[f"{name} variable {v.get('name')}"] = (
                query.get("query", "") if isinstance(query, dict) else str(query)
            )
    return exprs


# ----------------------------------------------------------------------------- conventions


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def alert_convention_problems(rules: dict, runbooks: str) -> Problems:
    """Every alert waits (`for:`), has a severity, a summary, a description and a runbook
    that is a heading of docs/alerts.md (`runbooks`, its text); names are unique."""
    problems, anchors, seen = [], heading_anchors(runbooks), set()
    for r in alerts(rules):
        name = r["alert"]
        if name in seen:
            problems.append(f"alert {name}: defined twice")
        seen.add(name)
        if not re.fullmatch(r"\d+[smh]", str(r.get("for", ""))):
            problems.append(f"alert {name}: no `for:` duration")
        if (r.get("labels") or {}).get("severity") not in SEVERITIES:
            problems.append(f"alert {name}: severity not one of {sorted(SEVERITIES)}")
        notes = r.get("annotations") or {}
        for key in ("summary", "description"):
            if not str(notes.get(key, "")).strip():
                problems.append(f"alert {name}: no {key} annotation")
        runbook = str(notes.get("runbook", ""))
        if not runbook.startswith("docs/alerts.md#") or runbook.split("#", 1)[1] not in anchors:
            problems.append(f"alert {name}: runbook {runbook!r} is no heading of docs/alerts.md")
    return problems


def render_prometheus_rule(rules_text: str) -> str:
    spec = importlib.util.spec_from_file_location("render", MONITORING / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(rules_text)


def prometheus_rule_problems(monitoring: Monitoring) -> Problems:
    """The PrometheusRule carries exactly the rule file's groups."""
    rule = monitoring.prometheus_rule
    if rule.get("kind") != "PrometheusRule":
        return [f"{PROMETHEUS_RULE.name}: not a PrometheusRule"]
    if (rule.get("spec") or {}).get("groups") != monitoring.rules.get("groups"):
        fix = "python deploy/monitoring/render.py"
        return [f"{PROMETHEUS_RULE.name} differs from {RULES.name}: run `{fix}`"]
    return []


# ----------------------------------------------------------------------------- scraping


def metrics_port(target: str | None, env: dict[str, str]) -> int | None:
    ports = [port for port, paths in served_paths(target, env).items() if "/metrics" in paths]
    return ports[0] if len(ports) == 1 else None


def service_monitor_problems(
    manifests: list[dict], monitoring: Monitoring, image: Image
) -> Problems:
    """The ServiceMonitor scrapes each Deployment's pods exactly once, on the port where the
    process serves /metrics, under job `porgate`."""
    monitors = [m for m in monitoring.k8s if m.get("kind") == "ServiceMonitor"]
    if len(monitors) != 1:
        return [f"want one ServiceMonitor in deploy/monitoring, got {len(monitors)}"]
    spec = monitors[0]["spec"]
    wanted = (spec.get("selector") or {}).get("matchLabels") or {}
    services = [
        s
        for s in monitoring.k8s
        if s.get("kind") == "Service"
        and wanted.items() <= (s["metadata"].get("labels") or {}).items()
    ]
    if not services:
        return ["the ServiceMonitor selects no Service in deploy/monitoring"]
    problems = []
    for s in services:
        job = (s["metadata"].get("labels") or {}).get(
            spec.get("jobLabel", ""), s["metadata"]["name"]
        )
        if job != JOB:
            problems.append(f"Service {s['metadata']['name']}: scraped as job {job!r}, not {JOB!r}")
    endpoints = {e.get("port"): e.get("path", "/metrics") for e in spec.get("endpoints") or []}
    problems += [
        f"ServiceMonitor endpoint {p}: path {path}"
        for p, path in endpoints.items()
        if path != "/metrics"
    ]
    for workload, pod in pod_templates(manifests):
        if workload["kind"] != "Deployment":
            continue
        labels = workload["spec"]["template"]["metadata"].get("labels") or {}
        for c in pod["containers"]:
            target = run_target(porgate_invocations(k8s_argv(c, image))[0])
            want = metrics_port(target, container_env(c, manifests))
            scraped = [
                resolve_port(port.get("targetPort", port["port"]), c)
                for s in services
                if (s["spec"].get("selector") or {}).items() <= labels.items()
                for port in s["spec"].get("ports") or []
                if port.get("name") in endpoints
            ]
            scraped = [p for p in scraped if p is not None]
            if scraped != [want]:
                problems.append(
                    f"Deployment {workload['metadata']['name']}: scraped on {scraped},"
                    f" want once on {want} (/metrics)"
                )
    return problems


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host path of a compose service's bind mounts."""
    out = {}
    for v in service.get("volumes") or []:
        parts = str(v).split(":")
        if len(parts) >= 2 and parts[0].startswith("."):
            out[parts[1]] = parts[0]
    return out


def _by_image(compose: dict, name: str) -> tuple[str, dict] | None:
    for key, svc in compose["services"].items():
        if str(svc.get("image", "")).split(":")[0] == name:
            return key, svc
    return None


def compose_monitoring_problems(compose: dict, monitoring: Monitoring, image: Image) -> Problems:
    """Compose's Prometheus scrapes every porgate runner on its /metrics port and loads the
    rule file; Grafana gets the provisioning and the dashboards."""
    problems = []
    services = compose["services"]
    expected = {
        f"{name}:{metrics_port(target, compose_env(services[name]))}"
        for name, target in compose_targets(compose, image).items()
        if target is not None
    }
    jobs = {j.get("job_name"): j for j in monitoring.prometheus_config.get("scrape_configs") or []}
    got = {
        t
        for sc in (jobs.get(JOB) or {}).get("static_configs") or []
        for t in sc.get("targets") or []
    }
    if got != expected:
        problems.append(f"prometheus.yml job {JOB}: targets {sorted(got)}, want {sorted(expected)}")
    if RULES.name not in (monitoring.prometheus_config.get("rule_files") or []):
        problems.append(f"prometheus.yml does not load {RULES.name}")
    prometheus = _by_image(compose, "prom/prometheus")
    if prometheus is None:
        problems.append("compose: no prom/prometheus service")
    else:
        config = next(
            (
                a.split("=", 1)[1]
                for a in prometheus[1].get("command") or []
                if a.startswith("--config.file=")
            ),
            "/etc/prometheus/prometheus.yml",
        )
        host = _mounts(prometheus[1]).get(str(Path(config).parent))
        if host is None or (ROOT / host).resolve() != PROMETHEUS_CONFIG.parent:
            problems.append(
                f"compose {prometheus[0]}: {PROMETHEUS_CONFIG.parent} not at {Path(config).parent}"
            )
    grafana = _by_image(compose, "grafana/grafana")
    if grafana is None:
        return problems + ["compose: no grafana/grafana service"]
    mounts = {c: (ROOT / h).resolve() for c, h in _mounts(grafana[1]).items()}
    if mounts.get("/etc/grafana/provisioning") != GRAFANA / "provisioning":
        problems.append(f"compose {grafana[0]}: provisioning not mounted")
    for path, doc in monitoring.grafana_provisioning.items():
        for provider in doc.get("providers") or []:
            where = (provider.get("options") or {}).get("path")
            if mounts.get(where) != DASHBOARDS:
                problems.append(
                    f"grafana {path}: provider path {where} is not the dashboards mount"
                )
        for source in doc.get("datasources") or []:
            url = str(source.get("url", ""))
            if prometheus and not url.startswith(f"http://{prometheus[0]}:9090"):
                problems.append(f"grafana {path}: datasource {url} is not compose's Prometheus")
    return problems


def dashboard_problems(monitoring: Monitoring) -> Problems:
    """Each dashboard reads Prometheus through its `datasource` variable, with unique panel ids."""
    problems = []
    for name, dashboard in monitoring.dashboards.items():
        variables = (dashboard.get("templating") or {}).get("list") or []
        if not any(
            v.get("type") == "datasource" and v.get("name") == "datasource" for v in variables
        ):
            problems.append(f"{name}: no `datasource` variable")
        ids = [p.get("id") for p in _panels(dashboard.get("panels") or [])]
        if len(ids) != len(set(ids)):
            problems.append(f"{name}: panel ids repeat")
        for p in _panels(dashboard.get("panels") or []):
            if p.get("type") == "row":
                continue
            if not p.get("targets"):
                problems.append(f"{name} panel {p.get('title')!r}: no query")
            for item in [p, *(p.get("targets") or [])]:
                if item.get("datasource") != DATASOURCE:
                    problems.append(
                        f"{name} panel {p.get('title')!r}: datasource not ${{datasource}}"
                    )
    return problems
