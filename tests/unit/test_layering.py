"""The layers: every module imports, imports run one way (contracts <- services/domain <-
services/common and services/rendering <- services/<service> <- entrypoints), no service
imports another's code, and services/common has no import cycle. Imports inside functions
and under TYPE_CHECKING count too: a cycle or an upward import there is one all the same."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "services.order_intake",
    "services.subscription_change",
    "services.por_validator",
    "services.gdap_revoker",
    "services.notifier",
    "services.partner_center_sync",
    # The Partner Center and Microsoft Graph clients: adapters several services share.
    "services.partner_center",
    "services.graph",
}
SHARED_ADAPTERS = {"services.partner_center", "services.graph"}
ENTRYPOINTS = {
    "services.cli",
    "services.api",
    "services.console",
    "services.ops",
    # `porgate dev`, the demo, the embedded servers: only the CLI's dev command reaches it.
    "services.devtools",
    "services.runner",
    "services.catalog",
    "services.asyncapi",
    # The one Settings, composed of the runtime's and every service's own.
    "services.settings",
}


def module_names() -> list[str]:
    names = []
    for top in ("contracts", "services"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "static" in path.parts or "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = module_names()


def imports_of(name: str) -> set[str]:
    """Every porgate module `name` imports, wherever the import statement is."""
    path = ROOT / (name.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / name.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in found if m in MODULES}


def package_of(name: str) -> str:
    parts = name.split(".")
    return parts[0] if parts[0] == "contracts" else ".".join(parts[:2])


def tier(name: str) -> int:
    package = package_of(name)
    if package == "contracts":
        return 0
    if package == "services.domain":
        return 1
    if package in ("services.common", "services.rendering"):
        return 2
    if package in SERVICES:
        return 3
    assert package in ENTRYPOINTS, f"{name}: which layer is {package} in? (add it to this test)"
    return 4


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports(name):
    importlib.import_module(name)


def test_imports_run_one_way_and_no_service_imports_another():
    wrong = []
    for name in MODULES:
        for imported in imports_of(name):
            if tier(imported) > tier(name):
                wrong.append(f"{name} imports {imported}, a higher layer")
            elif (
                tier(name) == tier(imported) == 3
                and package_of(name) != package_of(imported)
                and package_of(imported) not in SHARED_ADAPTERS
            ):
                wrong.append(f"{name} imports {imported}, another service's")
    assert wrong == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_services_common_has_no_import_cycle():
    common = [m for m in MODULES if package_of(m) == "services.common"]
    graph = {m: {i for i in imports_of(m) if package_of(i) == "services.common"} for m in common}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_rendering_reads_only_the_contracts_and_the_domain():
    # Pure, like the domain it renders: no runtime, no service, no I/O of its own.
    rendering = [m for m in MODULES if package_of(m) == "services.rendering"]
    assert rendering
    for name in rendering:
        imported = {package_of(i) for i in imports_of(name)}
        assert imported <= {"contracts", "services.domain", "services.rendering"}, name


def test_the_handler_vocabulary_is_a_leaf_of_services_common():
    assert {package_of(m) for m in imports_of("services.common.handling")} <= {"contracts"}


def top_level_imports_of(name: str) -> set[str]:
    """The porgate modules `name` imports at its top level (not inside a function)."""
    path = ROOT / (name.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / name.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return {m for m in found if m in MODULES}


def test_only_the_clis_dev_command_reaches_the_dev_tools_and_only_when_run():
    # The CLI's root callback reads a running `porgate dev`'s state file; `porgate dev` runs it.
    allowed = {"services.cli", "services.cli.system"}
    reaching = {
        name
        for name in MODULES
        if package_of(name) != "services.devtools"
        and any(package_of(i) == "services.devtools" for i in imports_of(name))
    }
    assert reaching == allowed
    assert not [
        name
        for name in allowed
        if any(package_of(i) == "services.devtools" for i in top_level_imports_of(name))
    ]
