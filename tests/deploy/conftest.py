"""The parsed deployment files, shared by the tests; a test that edits one edits a deep copy."""

from __future__ import annotations

import pytest

from tests.deploy.linter.dockerfile import Image, image_defaults
from tests.deploy.linter.files import load_compose, load_manifests
from tests.deploy.linter.monitoring import Monitoring, load_monitoring


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return load_manifests()


@pytest.fixture(scope="module")
def image() -> Image:
    return image_defaults()


@pytest.fixture(scope="module")
def monitoring() -> Monitoring:
    return load_monitoring()
