"""Release (automatic) and revalidate (the manual replay) are two things: the settings say
PORGATE_AUTO_RELEASE and PORGATE_RELEASE_WINDOW; the old names still work, with a warning."""

from __future__ import annotations

import warnings

import pytest

from services.settings import Settings


def test_the_new_names_are_read_without_a_warning(monkeypatch):
    monkeypatch.setenv("PORGATE_AUTO_RELEASE", "false")
    monkeypatch.setenv("PORGATE_RELEASE_WINDOW", "12h")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = Settings()
    assert (settings.auto_release, settings.release_window) == (False, 12 * 3600)


def test_the_old_names_still_work_with_a_deprecation_warning(monkeypatch):
    monkeypatch.setenv("PORGATE_AUTO_REVALIDATE", "false")
    monkeypatch.setenv("PORGATE_REVALIDATE_WINDOW", "7d")
    with pytest.warns(DeprecationWarning) as caught:
        settings = Settings()
    assert (settings.auto_release, settings.release_window) == (False, 7 * 86400)
    assert {str(w.message) for w in caught} == {
        "PORGATE_AUTO_REVALIDATE is deprecated: set PORGATE_AUTO_RELEASE",
        "PORGATE_REVALIDATE_WINDOW is deprecated: set PORGATE_RELEASE_WINDOW",
    }


def test_where_both_names_are_set_the_new_one_wins(monkeypatch):
    monkeypatch.setenv("PORGATE_AUTO_RELEASE", "true")
    monkeypatch.setenv("PORGATE_AUTO_REVALIDATE", "false")
    with pytest.warns(DeprecationWarning):
        assert Settings().auto_release is True


def test_the_old_names_as_arguments_too():
    with pytest.warns(DeprecationWarning):
        settings = Settings(auto_revalidate=False, revalidate_window="2d")
    assert (settings.auto_release, settings.release_window) == (False, 2 * 86400)


def test_the_defaults_release_within_thirty_days(monkeypatch):
    for name in ("AUTO_RELEASE", "RELEASE_WINDOW", "AUTO_REVALIDATE", "REVALIDATE_WINDOW"):
        monkeypatch.delenv(f"PORGATE_{name}", raising=False)
    settings = Settings()
    assert (settings.auto_release, settings.release_window) == (True, 30 * 86400)
