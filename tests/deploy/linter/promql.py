"""The metric names a PromQL expression reads, and the names the code exports."""

from __future__ import annotations

import importlib
import pkgutil
import re

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Summary

import services

# Prometheus makes these itself for every target; no code exports them.
SCRAPE_SERIES = {"up"}

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_LABEL_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
# A whole identifier (not the tail of a number or duration such as 15m or 1e3), not a call.
_IDENTIFIERS = re.compile(r"(?<![\w.:])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "atan2",
    "inf",
    "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (a Grafana query's variables are dropped)."""
    text = _STRINGS.sub('""', expr)  # label values and label_replace arguments are not names
    text = _GRAFANA_VARIABLES.sub("", text)
    text = _LABEL_MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _LABEL_LISTS.sub("", text)
    return {n for n in _IDENTIFIERS.findall(text) if n.lower() not in _KEYWORDS}


def _sample_suffixes() -> dict[str, set[str]]:
    """What this prometheus_client appends to a family's name, by type (`_created` may be off)."""
    registry = CollectorRegistry()
    Counter("c", "c", ["l"], registry=registry).labels("x").inc()
    Gauge("g", "g", ["l"], registry=registry).labels("x").set(1)
    Histogram("h", "h", ["l"], registry=registry).labels("x").observe(1)
    Summary("s", "s", ["l"], registry=registry).labels("x").observe(1)
    return {
        family.type: {s.name.removeprefix(family.name) for s in family.samples}
        for family in registry.collect()
    }


def exported_metric_names() -> set[str]:
    """Every series name the code can put on /metrics: whatever any module under services/
    registers in prometheus_client's default registry, with its type's suffixes."""
    for module in pkgutil.walk_packages(services.__path__, "services."):
        importlib.import_module(module.name)
    suffixes = _sample_suffixes()
    names: set[str] = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in suffixes.get(family.type, {""})}
        names |= {s.name for s in family.samples}
    return names


def unknown_metric_problems(exprs: dict[str, str], exported: set[str]) -> list[str]:
    """`where: name` for every name an expression reads that nothing exports."""
    return [
        f"{where}: {name} is not a metric the code exports"
        for where, expr in exprs.items()
        for name in sorted(promql_metric_names(expr) - exported - SCRAPE_SERIES)
    ]
