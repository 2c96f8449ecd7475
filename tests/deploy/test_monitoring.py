"""Alerts and dashboards: promtool accepts the rules and their unit tests pass, every metric
they and the dashboard read is one the code exports, and compose and Kubernetes scrape
every process where it serves /metrics. Each check also fails on a broken copy."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.linter.monitoring import (
    PROMETHEUS_CONFIG,
    PROMETHEUS_RULE,
    RULES,
    RULES_TESTS,
    RUNBOOKS,
    Monitoring,
    alert_convention_problems,
    alerts,
    compose_monitoring_problems,
    dashboard_exprs,
    dashboard_problems,
    prometheus_rule_problems,
    promtool,
    render_prometheus_rule,
    rule_exprs,
    service_monitor_problems,
)
from tests.deploy.linter.promql import (
    exported_metric_names,
    promql_metric_names,
    unknown_metric_problems,
)

# ----------------------------------------------------------------------------- promtool


def test_promtool_accepts_the_rule_file_and_compose_prometheus_config() -> None:
    for args in (("check", "rules", RULES), ("check", "config", PROMETHEUS_CONFIG)):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_when_it_should_and_not_otherwise() -> None:
    result = promtool("test", "rules", RULES_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_cover_every_alert(monitoring) -> None:
    tested = RULES_TESTS.read_text()
    assert [
        a["alert"] for a in alerts(monitoring.rules) if f"alertname: {a['alert']}" not in tested
    ] == []


@pytest.mark.parametrize(
    ("case", "old", "new"),
    [
        ("a threshold", "porgate_consumer_lag)) > 1000", "porgate_consumer_lag)) > 100000"),
        ("a wait", "for: 2m", "for: 20m"),
        (
            "the first-dead-letter branch",
            "porgate_dead_letters_created < 900",
            "porgate_dead_letters_created < 0",
        ),
        ("Graph's 404 exception", 'status!~"2..|404|409"', 'status!~"2.."'),
        (
            "the breaker's open value",
            "porgate_partner_center_breaker_state) == 2",
            "porgate_partner_center_breaker_state) >= 1",
        ),
    ],
)
def test_the_rule_unit_tests_fail_on_a_broken_rule(case, old, new, tmp_path: Path) -> None:
    text = RULES.read_text()
    assert text.count(old) == 1, case
    (tmp_path / RULES.name).write_text(text.replace(old, new))
    shutil.copy(RULES_TESTS, tmp_path / RULES_TESTS.name)
    assert promtool("test", "rules", tmp_path / RULES_TESTS.name).returncode != 0, case


# ----------------------------------------------------------------------------- metric names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        (
            (
                'sum by (service, topic) (rate(porgate_messages_total{outcome="x", service=~"a|b"}'
                "[5m] offset 1h)) / on (service) group_left (topic) porgate_consumer_lag > bool 1e3"
            ),
            {"porgate_messages_total", "porgate_consumer_lag"},
        ),
        (
            'histogram_quantile(0.99, sum(rate(a_bucket{le!="+Inf"}[$__rate_interval])) by (le))',
            {"a_bucket"},
        ),
        (
            'label_replace(x, "dst", "$1", "src", "(sum|rate)") and ignoring(a) y unless z or w',
            {"x", "y", "z", "w"},
        ),
        (
            'absent(up{job="porgate"}) or vector(0) and time() - c_created < 900',
            {"up", "c_created"},
        ),
        (
            "sum(rate(ns:metric:rate5m[${window}])) * 60 + sum_over_time(q[1h:5m]) - Inf",
            {"ns:metric:rate5m", "q"},
        ),
    ],
)
def test_promql_metric_names_reads_series_not_functions_labels_keywords_or_durations(
    expr, names
) -> None:
    assert promql_metric_names(expr) == names


def test_exported_names_carry_each_metric_types_suffixes() -> None:
    exported = exported_metric_names()
    assert {
        "porgate_decisions_total",
        "porgate_decisions_created",
        "porgate_batch_processing_seconds_bucket",
        "porgate_batch_processing_seconds_count",
        "porgate_consumer_lag",
        "porgate_notification_deliveries_total",  # a service's own metrics.py
        "porgate_api_requests_total",
    } <= exported
    assert "porgate_decisions" not in exported and "porgate_consumer_lag_total" not in exported


def test_every_metric_the_rules_and_the_dashboards_read_is_one_the_code_exports(monitoring) -> None:
    exprs = rule_exprs(monitoring.rules)
    for name, dashboard in monitoring.dashboards.items():
        exprs |= dashboard_exprs(name, dashboard)
    assert len(exprs) > 20
    assert unknown_metric_problems(exprs, exported_metric_names()) == []


def test_a_misspelt_metric_in_a_rule_or_a_panel_is_caught(monitoring) -> None:
    rules, dashboard = copy.deepcopy(monitoring.rules), copy.deepcopy(monitoring.dashboards)
    alert = alerts(rules)[3]
    alert["expr"] = alert["expr"].replace("porgate_consumer_lag", "porgate_consumer_lags")
    panel = next(p for p in dashboard["porgate.json"]["panels"] if p.get("targets"))
    panel["targets"][0]["expr"] = "sum(rate(porgate_decision_total[5m]))"
    exprs = rule_exprs(rules) | dashboard_exprs("porgate.json", dashboard["porgate.json"])
    problems = unknown_metric_problems(exprs, exported_metric_names())
    assert any("porgate_consumer_lags" in p for p in problems)
    assert any("porgate_decision_total" in p for p in problems)


# ----------------------------------------------------------------------------- conventions


def test_every_alert_waits_has_a_severity_annotations_and_a_runbook(monitoring) -> None:
    assert len(alerts(monitoring.rules)) >= 10
    assert alert_convention_problems(monitoring.rules, RUNBOOKS.read_text()) == []


def test_the_prometheus_rule_is_rendered_from_the_rule_file(monitoring) -> None:
    assert prometheus_rule_problems(monitoring) == []
    assert PROMETHEUS_RULE.read_text() == render_prometheus_rule(RULES.read_text())


def test_kubernetes_and_compose_scrape_every_process_on_its_metrics_port(
    monitoring, manifests, compose, image
) -> None:
    assert service_monitor_problems(manifests, monitoring, image) == []
    assert compose_monitoring_problems(compose, monitoring, image) == []


def test_dashboards_read_prometheus_through_their_datasource_variable(monitoring) -> None:
    assert dashboard_problems(monitoring) == []


def _alert(m: Monitoring, name: str) -> dict:
    return next(a for a in alerts(m.rules) if a["alert"] == name)


def _k8s(m: Monitoring, kind: str) -> dict:
    return next(d for d in m.k8s if d.get("kind") == kind)


Breakage = Callable[[Monitoring], object]
MUTATIONS: dict[str, tuple[str, Breakage]] = {
    "alert without for": ("alerts", lambda m: _alert(m, "PorgateDeadLetters").pop("for")),
    "alert without severity": (
        "alerts",
        lambda m: _alert(m, "PorgateGraphErrors")["labels"].clear(),
    ),
    "alert without description": (
        "alerts",
        lambda m: _alert(m, "PorgateTargetDown")["annotations"].pop("description"),
    ),
    "runbook to a missing heading": (
        "alerts",
        lambda m: _alert(m, "PorgateUnhealthy")["annotations"].update(
            runbook="docs/alerts.md#nowhere"
        ),
    ),
    "PrometheusRule behind the rule file": (
        "rule",
        lambda m: m.rules["groups"][0]["rules"].pop(),
    ),
    "ServiceMonitor without the API's port": (
        "k8s",
        lambda m: _k8s(m, "ServiceMonitor")["spec"]["endpoints"].pop(),
    ),
    "metrics Service on the wrong pod port": (
        "k8s",
        lambda m: _k8s(m, "Service")["spec"]["ports"][0].update(targetPort=9200),
    ),
    "scraped under another job": (
        "k8s",
        lambda m: _k8s(m, "ServiceMonitor")["spec"].update(jobLabel="app.kubernetes.io/component"),
    ),
    "compose target missing": (
        "compose",
        lambda m: m.prometheus_config["scrape_configs"][0]["static_configs"][0]["targets"].pop(),
    ),
    "compose target on the API's public port": (
        "compose",
        lambda m: m.prometheus_config["scrape_configs"][0]["static_configs"][0]["targets"].append(
            "api:8080"
        ),
    ),
    "rule file not loaded": ("compose", lambda m: m.prometheus_config.pop("rule_files")),
    "grafana provider elsewhere": (
        "compose",
        lambda m: m.grafana_provisioning["dashboards/porgate.yml"]["providers"][0][
            "options"
        ].update(path="/tmp"),
    ),
    "panel on a fixed data source": (
        "dashboard",
        lambda m: m.dashboards["porgate.json"]["panels"][1].update(datasource={"uid": "x"}),
    ),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_each_monitoring_check_fails_on_a_broken_copy(
    case, monitoring, manifests, compose, image
) -> None:
    kind, mutate = MUTATIONS[case]
    broken = copy.deepcopy(monitoring)
    mutate(broken)
    checks = {
        "alerts": lambda: alert_convention_problems(broken.rules, RUNBOOKS.read_text()),
        "rule": lambda: prometheus_rule_problems(broken),
        "k8s": lambda: service_monitor_problems(manifests, broken, image),
        "compose": lambda: compose_monitoring_problems(compose, broken, image),
        "dashboard": lambda: dashboard_problems(broken),
    }
    assert checks[kind](), case
