"""Partner Center POR error codes with their messages and remediation steps.

The Japanese text is copied verbatim from the Partner Center article (the seed's table
"一般的なエラー メッセージとその修正方法"); the English text is a translation of it.
Steps that link to a guide in the article name the guide without a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CANONICAL_ORDER",
    "CATALOGUE",
    "RANK",
    "ErrorCode",
    "ErrorInfo",
    "ErrorText",
    "describe",
    "language_of",
]


class ErrorCode(IntEnum):
    INCORRECT_PLA_ID = 800016
    PLA_INACTIVE = 900151
    NO_ACTIVE_RESELLER_TENANT = 900400
    NOT_CSP_INDIRECT_RESELLER = 900154
    NOT_AUTHORIZED_FOR_TRANSACTION = 900414
    REGION_MISMATCH = 900152


# Not numeric order: the domain fixes this order for every list of codes.
CANONICAL_ORDER: tuple[ErrorCode, ...] = (
    ErrorCode.INCORRECT_PLA_ID,
    ErrorCode.PLA_INACTIVE,
    ErrorCode.NO_ACTIVE_RESELLER_TENANT,
    ErrorCode.NOT_CSP_INDIRECT_RESELLER,
    ErrorCode.NOT_AUTHORIZED_FOR_TRANSACTION,
    ErrorCode.REGION_MISMATCH,
)
# Each code's place in CANONICAL_ORDER: the sort key of every list of codes.
RANK: Mapping[ErrorCode, int] = MappingProxyType({c: i for i, c in enumerate(CANONICAL_ORDER)})

Language = Literal["en", "ja"]


def language_of(tag: str | None) -> Language:
    """The catalogue's language for a language tag (`ja`, `ja-JP` as in X-Locale, `ja_JP`, or
    an Accept-Language value, whose first tag counts): Japanese, else English."""
    first = (tag or "").split(",")[0].split(";")[0]
    primary = first.strip().lower().replace("_", "-").split("-")[0]
    return "ja" if primary == "ja" else "en"


@dataclass(frozen=True, slots=True)
class ErrorText:
    message: str
    remediation: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: ErrorCode
    en: ErrorText
    ja: ErrorText

    def text(self, language: str) -> ErrorText:
        return self.ja if language_of(language) == "ja" else self.en


def _info(
    code: ErrorCode, en: tuple[str, tuple[str, ...]], ja: tuple[str, tuple[str, ...]]
) -> ErrorInfo:
    return ErrorInfo(code, ErrorText(en[0], en[1]), ErrorText(ja[0], ja[1]))


_ENTRIES = (
    _info(
        ErrorCode.INCORRECT_PLA_ID,
        en=(
            "The Partner Location Account (PLA) ID (formerly MPN ID) assigned to this order is incorrect.",
            (
                "Verify that the PLA ID (formerly MPN ID) matches the ID of the reseller's tenant.",
                "Verify that the assignment uses a PLA ID (formerly MPN ID), not a PGA (Partner Global Account) ID.",
                "Go to Partner Center > Account settings > Identifiers and verify that the ID is correct and of the right account type.",
            ),
        ),
        ja=(
            "この注文に割り当てられたパートナー ロケーション アカウント (PLA) ID (旧称 MPN ID) が正しくありません。",
            (
                "PLA ID (旧称 MPN ID) がリセラーのテナントの ID と一致するかどうかを確認します。",
                "割り当てには PGA (パートナー グローバル アカウント) ID ではなく、PLA ID (旧称 MPN ID) が使用されていることを確認します。",
                "[パートナー センター] > アカウント設定 > 識別子 に移動し、ID の正確性とアカウントの種類を確認します。",
            ),
        ),
    ),
    _info(
        ErrorCode.PLA_INACTIVE,
        en=(
            "This PLA ID (formerly MPN ID) is invalid or inactive.",
            (
                "The reseller should verify that its PLA ID (formerly MPN ID) is associated with an active, authorized reseller tenant.",
                "If the reseller isn't active as an authorized reseller tenant, follow the onboarding guide to enroll the tenant.",
            ),
        ),
        ja=(
            "この PLA ID (以前の MPN ID) は無効か非アクティブです。",
            (
                "リセラーが、PLA ID (旧称 MPN ID) がアクティブで承認されたリセラー テナントに関連付けられていることを確認します。",
                "リセラーが承認されたリセラー テナントとしてアクティブでない場合は、このオンボード ガイドを使用してテナントに 登録します",
            ),
        ),
    ),
    _info(
        ErrorCode.NO_ACTIVE_RESELLER_TENANT,
        en=(
            "The PLA ID (formerly MPN ID) isn't linked to an active reseller tenant.",
            (
                "The reseller should sign in to its Partner Center tenant, go to Account settings > Identifiers, and verify that the PLA ID (formerly MPN ID) is correct.",
                "If the reseller doesn't have an active reseller tenant, it must create one by following the steps in the onboarding guide.",
            ),
        ),
        ja=(
            "PLA ID (以前の MPN ID) は、アクティブなリセラー テナントにリンクされていません。",
            (
                "リセラーが パートナー センター テナント にログインし、[アカウント設定] > 識別子に移動して、PLA ID (旧称 MPN ID) の精度を確認します。",
                "リセラーにアクティブなリセラー テナントがない場合は、 このガイドの手順に従って作成する必要があります",
            ),
        ),
    ),
    _info(
        ErrorCode.NOT_CSP_INDIRECT_RESELLER,
        en=(
            "The PLA ID (formerly MPN ID) isn't linked to an active CSP indirect reseller tenant.",
            (
                "Enroll the reseller in an authorized CSP indirect reseller tenant.",
                "Once the tenant has been verified and activated, the PLA ID (formerly MPN ID) is recognized as valid for transactions.",
                "To learn how to partner with a distributor, see the guide on working with distributors.",
            ),
        ),
        ja=(
            "PLA ID (以前の MPN ID) は、アクティブな CSP 間接リセラー テナントにリンクされていません。",
            (
                "承認された CSP 間接リセラー テナントにリセラーを登録します。",
                "テナントの検証とアクティブ化が完了すると、PLA ID (以前の MPN ID) がトランザクションに対して有効として認識されます。",
                "ディストリビューターと提携する方法については、 このガイド を参照してください。",
            ),
        ),
    ),
    _info(
        ErrorCode.NOT_AUTHORIZED_FOR_TRANSACTION,
        en=(
            (
                "The requested indirect reseller with this PLA ID (formerly MPN ID) isn't currently authorized to be associated with this transaction. "
                "Verify that the reseller has an active CSP indirect reseller tenant."
            ),
            (
                "Verify the reseller's onboarding: confirm that the reseller has an active CSP indirect reseller tenant.",
                "For details about what qualifies as an authorized tenant, see the authorized reseller tenant guidance.",
                "If the requested reseller has only a direct-bill tenant, it must create a separate CSP indirect reseller tenant.",
            ),
        ),
        ja=(
            (
                "PLA ID (旧称 MPN ID) を持つ要求された間接リセラーは、現在、このトランザクションに関連付けられる権限がありません。 "
                "リセラーにアクティブな CSP 間接リセラー テナントがあることを確認します。"
            ),
            (
                "リセラーのオンボードを確認する - リセラーにアクティブな CSP 間接リセラー テナントがあることを確認します。",
                "承認されたテナントとして適格なものの詳細については 、ここをクリックしてください",
                "要求されたリセラーに直接請求テナントしかない場合は、個別の CSP 間接リセラー テナントを作成する必要があります。",
            ),
        ),
    ),
    _info(
        ErrorCode.REGION_MISMATCH,
        en=(
            (
                "This PLA ID (formerly MPN ID) is associated with a reseller tenant that doesn't match your CSP region. "
                "The distributor and the reseller's tenant must be in the same region to transact."
            ),
            (
                "The reseller must onboard to a new CSP indirect reseller tenant based on its business address in the CSP region.",
                "Ask the reseller to follow the onboarding guide.",
            ),
        ),
        ja=(
            (
                "この PLA ID (以前の MPN ID) は、CSP リージョンと一致しないリセラー テナントに関連付けられています。 "
                "ディストリビューターとリセラーのテナントは、トランザクションを行うために同じリージョンに存在する必要があります。"
            ),
            (
                "リセラーは、CSP リージョンのビジネス アドレスに基づいて、新しい CSP 間接リセラー テナントにオンボードする必要があります。",
                "リセラーに このオンボーディング ガイドを使用してもらう",
            ),
        ),
    ),
)

CATALOGUE: Mapping[ErrorCode, ErrorInfo] = MappingProxyType(
    {info.code: info for info in sorted(_ENTRIES, key=lambda i: RANK[i.code])}
)


def describe(code: int, language: str = "en") -> ErrorText:
    """Message and remediation for ``code``; ValueError if the code is unknown."""
    return CATALOGUE[ErrorCode(code)].text(language)
