"""The image: its final stage's entrypoint, default command, user, ports and healthcheck."""

from __future__ import annotations

import json
import re

from tests.deploy.linter.files import DOCKERFILE
from tests.deploy.linter.porgate import Problems, settings_default

Image = tuple[list[str], list[str]]  # (ENTRYPOINT, CMD), in exec form


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


def image_defaults() -> Image:
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
