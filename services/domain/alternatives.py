"""What would pass: the PLA ids of the same reseller organisation that the rules accept now
for this distributor. Pure.

An organisation is a PGA (global) account and the PLA (location) accounts that name it as
their `globalPartnerId`. A PGA id given as the POR is its own organisation's id. The check is
`evaluate_por` itself, or Partner Center's answers where it is the authority (`passes`), so
a suggestion is a reassignment that goes through in one step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from services.domain.por_rules import Registry, evaluate_por, normalize_partner_id


def organisation_of(registry: Registry, partner_id: object) -> str | None:
    """The PGA id of the organisation this id belongs to; None when the registry cannot tell."""
    pid = normalize_partner_id(partner_id)
    account = registry.accounts.get(pid) if pid is not None else None
    if account is None:
        return None
    if account.account_type == "PGA":
        return account.partner_id
    return account.global_partner_id


def organisation_pla_ids(registry: Registry, partner_id: object) -> list[str]:
    """The organisation's PLA ids the registry knows, other than `partner_id`, sorted."""
    organisation = organisation_of(registry, partner_id)
    if organisation is None:
        return []
    own = normalize_partner_id(partner_id)
    return sorted(
        a.partner_id
        for a in registry.accounts.values()
        if a.account_type == "PLA" and a.global_partner_id == organisation and a.partner_id != own
    )


def in_region(registry: Registry, partner_ids: Iterable[str], region: str | None) -> list[str]:
    """Those of `partner_ids` whose reseller tenant is in `region` (none when it is unknown)."""
    if region is None:
        return []
    out = []
    for pid in partner_ids:
        account = registry.accounts.get(pid)
        tenant_id = account.reseller_tenant_id if account else None
        tenant = registry.tenants.get(tenant_id) if tenant_id else None
        if tenant is not None and tenant.region == region:
            out.append(pid)
    return out


def registry_passes(registry: Registry, distributor_id: str) -> Callable[[str], bool]:
    """The rules' verdict, as `passing_alternatives` takes it."""
    return lambda pid: not evaluate_por(pid, distributor_id, registry)


def passing_alternatives(
    registry: Registry,
    partner_id: object,
    distributor_id: str,
    passes: Callable[[str], bool] | None = None,
) -> list[str]:
    """The organisation's other PLA ids that pass now for this distributor, sorted.

    `passes` is who decides: by default the registry's rules; with Partner Center as the
    authority, its answers for these ids (the caller asks for `organisation_pla_ids`)."""
    decide = passes or registry_passes(registry, distributor_id)
    return [pid for pid in organisation_pla_ids(registry, partner_id) if decide(pid)]
