"""The image: Dockerfile and the build context it sees."""

from __future__ import annotations

from tests.deploy.linter.dockerfile import dockerfile_problems, image_defaults
from tests.deploy.linter.files import DOCKERFILE, ROOT


def test_dockerfile_builds_a_multi_stage_non_root_image_that_runs_porgate_run_all() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []
    assert image_defaults() == (["porgate"], ["run", "all"])


def test_dockerignore_keeps_what_the_wheel_needs() -> None:
    # An allow-list: the build context has the package sources, pyproject and README only.
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("!pyproject.toml", "!README.md", "!contracts/", "!services/"):
        assert needed in lines
