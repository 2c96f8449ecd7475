"""The words of remediation, in English and Japanese: one entry per step of the decision
table (by its check), plus Partner Center's codes that porgate has no rule for and an
unsigned Microsoft Partner Agreement. Pure data.

The partnership-request steps follow the Partner Center article (the seed,
"間接リセラーとの接続"), its Japanese kept as the article words it. Each entry has the same
parts in both languages; `services/domain/remediation.py` picks the parts that fit the
facts, and `services/rendering/remediation.py` fills the {placeholders}.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from contracts.errors import Language
from services.domain.remediation import MPA_SIGNED, PARTNER_CENTER_CODE

# Part name -> its text: "cause" is one string; every other part is a tuple of actions.
Parts = Mapping[str, str | tuple[str, ...]]

_EN: dict[str, Parts] = {
    "pla_id_shape": {
        "cause": "{pid} is not a PLA ID: a PLA ID is 5 to 10 digits.",
        "actions": (
            "Ask the reseller for its PLA ID (formerly MPN ID): in Partner Center, Account settings > Identifiers.",
            "Correct the Partner of Record on the order or subscription to that PLA ID.",
        ),
    },
    "partner_account_known": {
        "cause": "No partner account with ID {pid} is known.",
        "actions": (
            "Check the ID with the reseller: it signs in to Partner Center and reads its PLA ID under Account settings > Identifiers.",
            "If the ID is right and the reseller is new, sync the registry (porgate sync partner-center).",
        ),
    },
    "account_is_pla": {
        "cause": "{pid} is a PGA (Partner Global Account) ID: only a PLA (location) ID can be the Partner of Record.",
        "with_ids": ("Assign one of the organisation's PLA IDs instead: {org_ids}.",),
        "without_ids": (
            "porgate knows no PLA ID of this organisation: ask the reseller for the PLA ID of the location that transacts with you (Partner Center > Account settings > Identifiers).",
        ),
    },
    "pla_active": {
        "cause": "PLA ID {pid} is inactive: its location account is closed or deactivated.",
        "actions": (
            "The reseller signs in to Partner Center, opens Account settings > Identifiers, and checks that PLA ID {pid} is active and associated with its active, authorized reseller tenant.",
            "If the location account was closed, the reseller reactivates it in Partner Center, or gives you the PLA ID of an active location.",
            "If its tenant is not active as an authorized reseller tenant, the reseller enrols it with the onboarding guide.",
        ),
    },
    "tenant_active": {
        "cause": "PLA ID {pid} is not linked to an active reseller tenant (tenant: {tenant_state}).",
        "actions": (
            "The reseller signs in to its Partner Center tenant, opens Account settings > Identifiers, and checks that PLA ID {pid} is linked to that tenant.",
            "A suspended tenant: the reseller resolves the suspension with Microsoft support, so that the tenant is active again.",
            "A tenant pending onboarding: the reseller completes the enrolment (company verification) in Partner Center.",
            "No tenant, or a deleted one: the reseller creates an active CSP indirect reseller tenant by following the enrolment guide.",
        ),
    },
    "tenant_not_direct_bill_only": {
        "cause": "The reseller's tenant is a direct-bill tenant only, not a CSP indirect reseller tenant.",
        "actions": (
            "The reseller creates a separate CSP indirect reseller tenant: in Partner Center, it enrols as a CSP indirect reseller (enrolment guide).",
            "Once Microsoft has verified and activated the new tenant, the reseller links PLA ID {pid} to it and accepts your partnership request.",
        ),
    },
    "tenant_authorized_indirect_reseller": {
        "cause": "The reseller's tenant is not an authorized CSP indirect reseller tenant (enrolment pending, or authorization withdrawn).",
        "actions": (
            "The reseller enrols its tenant as an authorized CSP indirect reseller in Partner Center (enrolment guide).",
            "Once the tenant is verified and activated, PLA ID {pid} is recognized as valid for transactions.",
            "If the authorization was withdrawn, the reseller asks Microsoft support, through Partner Center, to reinstate it.",
        ),
    },
    "active_partnership": {
        "cause": "The reseller's tenant has no active partnership with you ({distributor}).",
        "actions": (
            "Send the reseller a partnership request: from the Partner Center home menu, go to the Customers workspace.",
            "Select Indirect resellers.",
            "Select Request a partnership.",
            "A draft email message appears: select Open in email to open it in your default email application, or select Copy to clipboard and paste the message into an email.",
            "Select Done.",
            "You can customize the text of the email, but do not remove the link: it is customized for your Partner Center account.",
            "Once the reseller accepts, its PLA ID joins your list of indirect resellers and can be assigned to subscriptions.",
        ),
        "with_url": ("Your partnership request link, for the reseller to open and accept: {url}",),
        "without_url": (
            "porgate has no partnership request link of yours (partnershipRequestUrl in your registry record): use the link in the draft email.",
        ),
    },
    "same_csp_region": {
        "cause": "The reseller's tenant is in the CSP region {tenant_region}; you are in {distributor_region}. Both must be in the same region to transact.",
        "with_ids": (
            "Of the same organisation, these PLA IDs are in {distributor_region}: {region_ids}. Assign one of them as the Partner of Record.",
        ),
        "without_ids": (
            "porgate knows no PLA ID of this organisation in {distributor_region}: the reseller must onboard a new CSP indirect reseller tenant based on its business address in {distributor_region} (onboarding guide), and give you that tenant's PLA ID.",
        ),
    },
    PARTNER_CENTER_CODE: {
        "cause": "{description}",
        "actions": (
            "Partner Center answered error {code} for PLA ID {pid}, and porgate has no rule for it: look the code up in Partner Center (Help + support) and follow its guidance.",
        ),
    },
    MPA_SIGNED: {
        "cause": "MPA not signed in this region: the reseller has not signed the Microsoft Partner Agreement in your CSP region.",
        "actions": (
            "The reseller's global admin signs in to Partner Center, opens Account settings > Agreements, and accepts the Microsoft Partner Agreement.",
        ),
    },
}

_JA: dict[str, Parts] = {
    "pla_id_shape": {
        "cause": "{pid} は PLA ID ではありません。PLA ID は 5 ～ 10 桁の数字です。",
        "actions": (
            "リセラーに PLA ID (旧称 MPN ID) を確認してもらいます (パートナー センターの [アカウント設定] > 識別子)。",
            "注文またはサブスクリプションのパートナー オブ レコードをその PLA ID に修正します。",
        ),
    },
    "partner_account_known": {
        "cause": "ID {pid} のパートナー アカウントは登録されていません。",
        "actions": (
            "リセラーに ID を確認してもらいます。リセラーはパートナー センターにサインインし、[アカウント設定] > 識別子 で PLA ID を確認します。",
            "ID が正しく新しいリセラーの場合は、レジストリを同期します (porgate sync partner-center)。",
        ),
    },
    "account_is_pla": {
        "cause": "{pid} は PGA (パートナー グローバル アカウント) ID です。パートナー オブ レコードには PLA (ロケーション) ID のみが有効です。",
        "with_ids": ("代わりに、この組織の PLA ID のいずれかを割り当てます: {org_ids}。",),
        "without_ids": (
            "porgate はこの組織の PLA ID を把握していません。取引するロケーションの PLA ID をリセラーに確認してもらいます (パートナー センター > [アカウント設定] > 識別子)。",
        ),
    },
    "pla_active": {
        "cause": "PLA ID {pid} は非アクティブです (ロケーション アカウントが閉鎖または非アクティブ化されています)。",
        "actions": (
            "リセラーがパートナー センターにサインインし、[アカウント設定] > 識別子 で PLA ID {pid} がアクティブで、承認されたアクティブなリセラー テナントに関連付けられていることを確認します。",
            "ロケーション アカウントが閉鎖されている場合は、リセラーがパートナー センターで再アクティブ化するか、アクティブなロケーションの PLA ID を提供します。",
            "テナントが承認されたリセラー テナントとしてアクティブでない場合は、リセラーがオンボード ガイドを使用して登録します。",
        ),
    },
    "tenant_active": {
        "cause": "PLA ID {pid} は、アクティブなリセラー テナントにリンクされていません (テナント: {tenant_state})。",
        "actions": (
            "リセラーがパートナー センター テナントにサインインし、[アカウント設定] > 識別子 で PLA ID {pid} がそのテナントにリンクされていることを確認します。",
            "テナントが停止されている場合: リセラーが Microsoft サポートと停止を解消し、テナントを再びアクティブにします。",
            "オンボード未完了の場合: リセラーがパートナー センターで登録 (会社の検証) を完了します。",
            "テナントがない、または削除された場合: リセラーが登録ガイドに従ってアクティブな CSP 間接リセラー テナントを作成します。",
        ),
    },
    "tenant_not_direct_bill_only": {
        "cause": "リセラーのテナントは直接請求テナントのみで、CSP 間接リセラー テナントではありません。",
        "actions": (
            "リセラーが個別の CSP 間接リセラー テナントを作成します。パートナー センターで CSP 間接リセラーとして登録します (登録ガイド)。",
            "Microsoft が新しいテナントを検証してアクティブ化した後、リセラーが PLA ID {pid} をそのテナントにリンクし、パートナーシップ要求を承認します。",
        ),
    },
    "tenant_authorized_indirect_reseller": {
        "cause": "リセラーのテナントは承認された CSP 間接リセラー テナントではありません (登録中、または承認の取り消し)。",
        "actions": (
            "リセラーがパートナー センターで、承認された CSP 間接リセラーとしてテナントを登録します (登録ガイド)。",
            "テナントの検証とアクティブ化が完了すると、PLA ID {pid} がトランザクションに対して有効として認識されます。",
            "承認が取り消された場合は、リセラーがパートナー センターから Microsoft サポートに再承認を依頼します。",
        ),
    },
    "active_partnership": {
        "cause": "リセラーのテナントとお客様 ({distributor}) の間にアクティブなパートナーシップがありません。",
        "actions": (
            "リセラーにパートナーシップ要求を送信します: パートナー センターホーム メニューから、[顧客] ワークスペースに移動します。",
            "間接販売代理店を選択します。",
            "パートナーシップを要求しますを選択します。",
            "下書きメール メッセージが表示されます。[電子メールで開く] を選択して既定の電子メール アプリケーションでメッセージを開くか、[クリップボードにコピー] を選択してメッセージをコピーし、メールに貼り付けます。",
            "完了 を選択します。",
            "メール メッセージのテキストは、ニーズに合わせてカスタマイズできます。 ただし、リンクはパートナー センター アカウント用にカスタマイズされているため、削除しないでください。",
            "リセラーが要求を受け入れると、リセラーの PLA ID がディストリビューターのリセラー リストに追加され、サブスクリプションの割り当てに使用できます。",
        ),
        "with_url": ("リセラーが開いて承認するパートナーシップ要求のリンク: {url}",),
        "without_url": (
            "porgate にはお客様のパートナーシップ要求リンク (レジストリの partnershipRequestUrl) がありません。下書きメールのリンクを使用してください。",
        ),
    },
    "same_csp_region": {
        "cause": "リセラーのテナントは CSP リージョン {tenant_region} にあり、お客様は {distributor_region} です。取引するには同じリージョンに存在する必要があります。",
        "with_ids": (
            "同じ組織の次の PLA ID は {distributor_region} にあります: {region_ids}。いずれかをパートナー オブ レコードとして割り当てます。",
        ),
        "without_ids": (
            "porgate はこの組織の {distributor_region} の PLA ID を把握していません。リセラーは {distributor_region} のビジネス アドレスに基づいて新しい CSP 間接リセラー テナントにオンボードし (オンボーディング ガイド)、そのテナントの PLA ID を提供する必要があります。",
        ),
    },
    PARTNER_CENTER_CODE: {
        "cause": "{description}",
        "actions": (
            "パートナー センターは PLA ID {pid} にエラー {code} を返しましたが、porgate にはこのコードの規則がありません。パートナー センター ([ヘルプとサポート]) でコードを確認し、その案内に従ってください。",
        ),
    },
    MPA_SIGNED: {
        "cause": "このリージョンで MPA が署名されていません: リセラーはお客様の CSP リージョンで Microsoft パートナー契約に署名していません。",
        "actions": (
            "リセラーのグローバル管理者がパートナー センターにサインインし、[アカウント設定] > 契約 で Microsoft パートナー契約に同意します。",
        ),
    },
}

TEXT: Mapping[Language, Mapping[str, Parts]] = MappingProxyType({"en": _EN, "ja": _JA})

# What a tenant's state reads as in `tenant_state`.
TENANT_STATE: Mapping[Language, Mapping[str, str]] = MappingProxyType(
    {
        "en": {
            "none": "none linked",
            "missing": "not found",
            "suspended": "suspended",
            "deleted": "deleted",
            "pending_onboarding": "pending onboarding",
            "active": "active",
        },
        "ja": {
            "none": "リンクなし",
            "missing": "見つかりません",
            "suspended": "停止",
            "deleted": "削除済み",
            "pending_onboarding": "オンボード未完了",
            "active": "アクティブ",
        },
    }
)

# The other words a message needs.
WORDS: Mapping[Language, Mapping[str, str]] = MappingProxyType(
    {
        "en": {
            "unknown_region": "an unknown region",
            "no_description": "Partner Center gave no description.",
            "recheck": "When it is done, re-check: porgate recheck {pid} --distributor {distributor}, or Re-check now in the console.",
            "suggestions": "These PLA IDs of the same organisation pass now for you: {ids}. Reassigning the Partner of Record to one of them lets the transaction through.",
            "valid": "PLA ID {pid} passes now for {distributor}: nothing to do.",
            "subject": "PLA ID {pid}: what to do so that transactions with {distributor} go through",
            "for_reseller": "For the reseller",
            "for_distributor": "For the distributor",
            "error": "error",
        },
        "ja": {
            "unknown_region": "不明なリージョン",
            "no_description": "パートナー センターの説明はありません。",
            "recheck": "完了したら再確認します: porgate recheck {pid} --distributor {distributor}、またはコンソールの [今すぐ再確認]。",
            "suggestions": "同じ組織の次の PLA ID は現在検証に合格します: {ids}。パートナー オブ レコードをいずれかに変更すると、トランザクションは通ります。",
            "valid": "PLA ID {pid} は {distributor} に対して現在有効です。対応は不要です。",
            "subject": "PLA ID {pid}: {distributor} との取引を通すために必要な対応",
            "for_reseller": "リセラーの対応",
            "for_distributor": "ディストリビューターの対応",
            "error": "エラー",
        },
    }
)
