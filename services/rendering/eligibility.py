"""The ResellerEligibility report (services/domain/eligibility.py) as Partner Center's file
has it: its columns, True/False and Yes/No, codes comma-separated."""

from __future__ import annotations

from services.domain.eligibility import EligibilityRow

COLUMNS = (
    "PartnerId",
    "IsCompliant",
    "ErrorCodes",
    "ResellerStatus",
    "RegionMatch",
    "ResellerAssociatedWithDistributor",
    "ResellerAccountType",
)


def eligibility_record(row: EligibilityRow) -> dict[str, str]:
    yes_no = {True: "Yes", False: "No"}
    return {
        "PartnerId": row.partner_id,
        "IsCompliant": "True" if row.is_compliant else "False",
        "ErrorCodes": ",".join(str(c) for c in row.error_codes),
        "ResellerStatus": row.reseller_status,
        "RegionMatch": yes_no[row.region_match],
        "ResellerAssociatedWithDistributor": yes_no[row.associated_with_distributor],
        "ResellerAccountType": row.account_type,
    }
