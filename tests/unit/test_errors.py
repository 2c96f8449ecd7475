"""The error catalogue: complete, bilingual, faithful to Microsoft's article, canonically ordered."""

import re
from pathlib import Path

import pytest

from contracts.errors import (
    CANONICAL_ORDER,
    CATALOGUE,
    ErrorCode,
    ErrorText,
    describe,
    language_of,
)
from services.domain.por_rules import union_codes

RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def microsofts_table() -> str:
    """The error-code table of Microsoft's article (Japanese), as docs/rules.md quotes it."""
    blocks = re.findall(r"```text\n(.*?)```", RULES.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1, "docs/rules.md quotes Microsoft's table in one ```text block"
    return blocks[0]


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
def test_japanese_text_is_verbatim_from_microsofts_article(code):
    seed = microsofts_table()
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
def test_union_codes_orders_and_dedupes(codes, expected):
    result = union_codes([codes])
    assert result == expected
    assert all(isinstance(c, ErrorCode) for c in result)


def test_union_codes_rejects_unknown_codes():
    with pytest.raises(ValueError):
        union_codes([[800016, 42]])


def test_catalogue_is_read_only():
    with pytest.raises(TypeError):
        CATALOGUE[ErrorCode.PLA_INACTIVE] = CATALOGUE[ErrorCode.INCORRECT_PLA_ID]  # type: ignore[index]


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [
        ("ja", "ja"),
        ("JA", "ja"),
        ("ja-JP", "ja"),
        ("ja_JP", "ja"),
        ("en", "en"),
        (None, "en"),
        ("", "en"),
        ("fr", "en"),
        # Accept-Language: the first tag decides.
        ("ja-JP,en;q=0.8", "ja"),
        ("ja;q=0.9", "ja"),
        ("en-US,ja;q=0.5", "en"),
        ("jav", "en"),
    ],
)
def test_a_language_tag_or_accept_language_value_picks_japanese_or_english(preferred, expected):
    assert language_of(preferred) == expected
