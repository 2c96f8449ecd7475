"""The error catalogue: complete, bilingual, faithful to the seed, canonically ordered."""

from pathlib import Path

import pytest

from contracts.errors import (
    CANONICAL_ORDER,
    CATALOGUE,
    ErrorCode,
    ErrorText,
    canonical,
    describe,
)

SEED = Path(__file__).resolve().parents[3] / "shared/seeds/000_cfb46e3b9bda5fd4.txt"


def test_canonical_order_is_the_domain_order():
    assert [int(c) for c in CANONICAL_ORDER] == [800016, 900151, 900400, 900154, 900414, 900152]
    assert set(CANONICAL_ORDER) == set(ErrorCode)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_english_and_japanese_text(code):
    info = CATALOGUE[code]
    assert info.code is code
    for text in (info.en, info.ja):
        assert text.message.strip()
        assert len(text.remediation) >= 1
        assert all(step.strip() == step and step for step in text.remediation)
    # A translation, step for step.
    assert len(info.en.remediation) == len(info.ja.remediation)


def test_catalogue_covers_exactly_the_known_codes():
    assert list(CATALOGUE) == list(CANONICAL_ORDER)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_japanese_text_is_verbatim_from_the_seed(code):
    if not SEED.is_file():
        pytest.skip(f"seed article not found at {SEED}")
    seed = SEED.read_text(encoding="utf-8")
    ja = CATALOGUE[code].ja
    assert f"{int(code)} {ja.message}" in seed
    for step_no, step in enumerate(ja.remediation, start=1):
        assert f"{step_no}. {step}" in seed


def test_english_text_has_no_links():
    for info in CATALOGUE.values():
        for s in (info.en.message, *info.en.remediation):
            assert "http" not in s and "click here" not in s.lower()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ja", "ja"),
        ("JA", "ja"),
        ("ja-JP", "ja"),
        ("en", "en"),
        ("en-US", "en"),
        ("de", "en"),
        ("", "en"),
    ],
)
def test_text_language_selection(language, expected):
    info = CATALOGUE[ErrorCode.REGION_MISMATCH]
    assert info.text(language) is getattr(info, expected)


def test_describe():
    assert describe(800016) == CATALOGUE[ErrorCode.INCORRECT_PLA_ID].en
    assert describe(900400, "ja") == CATALOGUE[ErrorCode.NO_ACTIVE_RESELLER_TENANT].ja
    assert describe(800016).message.startswith(
        "The Partner Location Account (PLA) ID (formerly MPN ID) assigned to this order is incorrect."
    )
    assert isinstance(describe(ErrorCode.PLA_INACTIVE), ErrorText)
    with pytest.raises(ValueError):
        describe(123456)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], []),
        ([900152], [900152]),
        ([900152, 800016], [800016, 900152]),
        ([900414, 900414, 900151], [900151, 900414]),
        (
            (900152, 900414, 900154, 900400, 900151, 800016),
            [800016, 900151, 900400, 900154, 900414, 900152],
        ),
        ({900154, 900400}, [900400, 900154]),
        (iter([900414, 900152, 900414]), [900414, 900152]),
    ],
)
def test_canonical_orders_and_dedupes(codes, expected):
    result = canonical(codes)
    assert result == expected
    assert all(isinstance(c, ErrorCode) for c in result)


def test_canonical_rejects_unknown_codes():
    with pytest.raises(ValueError):
        canonical([800016, 42])


def test_catalogue_is_read_only():
    with pytest.raises(TypeError):
        CATALOGUE[ErrorCode.PLA_INACTIVE] = CATALOGUE[ErrorCode.INCORRECT_PLA_ID]  # type: ignore[index]
