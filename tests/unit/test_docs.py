"""The README and docs/ stand on their own: what they say of the demo is what it loads, and
every path they name or link is in the repository, on any machine."""

import re
from pathlib import Path

import pytest

from services.devtools.demo import DemoWorld, notable_resellers

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "contracts" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_lists_the_demo_registry_that_services_demo_loads():
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"^\| (\d{7}) \| (dist-[\w-]+) \| (.+?) \|$", readme, re.MULTILINE)
    assert listed == notable_resellers(DemoWorld())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_names_no_path_of_this_machine_and_nothing_outside_the_repository(page):
    text = page.read_text()
    for outside in ("/work/", "/root/", "/tmp/", "/home/", "../shared"):
        assert outside not in text, f"{page.name} names {outside}"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:|#", target):
            continue  # a URL, or an anchor on the page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert path.exists(), f"{page.name} links to {target}, which is not there"
