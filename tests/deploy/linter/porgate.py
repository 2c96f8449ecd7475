"""What the code defines: its settings, its commands, its services and the ports they serve."""

from __future__ import annotations

import re
import shlex
from typing import Any

import typer.main

from services.catalog import SERVICE_MODULES
from services.cli import app as cli_app
from services.settings import Settings

IMAGE = "porgate"
# What `porgate run X` serves, by port setting: the health server on PORGATE_HEALTH_PORT
# (`run api` starts one too: /metrics is never on the API's port), and the API, which mounts
# the health routes but not /metrics on PORGATE_API_PORT.
HEALTH_PATHS = {"/livez", "/readyz", "/healthz", "/metrics"}
API_PATHS = HEALTH_PATHS - {"/metrics"}

Problems = list[str]


# ----------------------------------------------------------------------------- settings


def settings_env_names() -> set[str]:
    return {"PORGATE_" + name.upper() for name in Settings.model_fields}


def settings_default(field: str) -> Any:
    return Settings.model_fields[field].default


def env_name_problems(texts: dict[str, str]) -> Problems:
    known = settings_env_names()
    return [
        f"{where}: {name} is not a Settings field"
        for where, text in texts.items()
        for name in sorted(set(re.findall(r"PORGATE_[A-Z0-9_]+", text)))
        if name not in known
    ]


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


# ----------------------------------------------------------------------------- the CLI


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


def uses_porgate_image(spec: dict) -> bool:
    image = str(spec.get("image", ""))
    return image.rsplit("/", 1)[-1].split(":")[0] == IMAGE or "build" in spec


def run_target(invocations: list[list[str]]) -> str | None:
    for args in invocations:
        if args[:1] == ["run"] and len(args) > 1:
            return args[1]
    return None


# ----------------------------------------------------------------------------- services


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


def served_paths(target: str | None, env: dict[str, str]) -> dict[int, set[str]]:
    """Port -> paths a `porgate run TARGET` process answers, given its environment."""
    health = {int(env.get("PORGATE_HEALTH_PORT", settings_default("health_port"))): HEALTH_PATHS}
    api = {int(env.get("PORGATE_API_PORT", settings_default("api_port"))): API_PATHS}
    if target in ("api", "all"):
        return {**health, **api}
    return health
