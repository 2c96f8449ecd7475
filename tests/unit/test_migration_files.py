"""Migration files: one number each per folder, so the order they apply in is the order they
were written in, whoever merged them; and a withdrawn file's number is never used again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Files that were applied by deployments and then withdrawn (their rows stay applied): a new
# file with the number would run after later ones on those databases, before them on fresh.
WITHDRAWN = {
    # The console's indexes, now services/console/migrations/<schema>/.
    "services/por_validator/migrations": "005",
    "services/notifier/migrations": "005",
}


def folders() -> list[Path]:
    return sorted({p.parent for p in REPO.glob("services/**/migrations/**/*.sql")})


def test_no_two_migrations_of_a_folder_share_a_number():
    found = folders()
    # The runtime, six services, and the console's two (one per schema it reads).
    assert len(found) >= 9
    for folder in found:
        numbers = Counter(p.name[:3] for p in folder.glob("*.sql"))
        assert not [n for n, c in numbers.items() if c > 1], folder


def test_a_withdrawn_migrations_number_is_not_used_again():
    for folder, number in WITHDRAWN.items():
        assert not list((REPO / folder).glob(f"{number}_*.sql")), folder
