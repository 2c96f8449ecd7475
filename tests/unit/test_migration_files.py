"""Migration files: one number each per folder, so the order they apply in is the order they
were written in, whoever merged them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_two_migrations_of_a_folder_share_a_number():
    folders = sorted(REPO.glob("services/**/migrations"))
    assert len(folders) >= 7
    for folder in folders:
        numbers = Counter(p.name[:3] for p in folder.glob("*.sql"))
        assert not [n for n, c in numbers.items() if c > 1], folder
