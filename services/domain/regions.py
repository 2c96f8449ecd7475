"""Country (ISO 3166-1 alpha-2) to Microsoft CSP region.

The shipped table, ``data/country_regions.json``, covers all 249 assigned codes. Where
geography alone does not settle a code, these choices were made:

- Europe: the EU and EFTA, the UK, AD, MC, SM, VA; the Crown Dependencies (IM, JE, GG)
  and GI; the Danish, Finnish and Norwegian dependencies (FO, GL, AX, SJ); and the French
  territories that are part of the EU (GF, GP, MQ, RE, YT, MF).
- Middle East, Central & Eastern Europe: ZA; the Middle East including EG and PS; the
  non-EU states of Central and Eastern Europe and the Caucasus; Central Asia.
- Africa: the rest of Africa, including North Africa (DZ, MA, TN, LY, EH).
- Territories go with their parent market: US territories (PR, GU, VI, AS, MP, UM) to
  United States, CX/CC/NF/HM to Australia, TK to New Zealand. Other overseas territories
  (BL, PM, BM, NC, PF, WF, PN, ...) follow geography.
- Latin America & Caribbean: the Americas other than US, CA and BR (so BM and PM too).
- Asia & Pacific: the rest of Asia and Oceania, including AF and PK and the
  self-governing CK and NU.
- Uninhabited codes follow the UN M49 geoscheme: BV, GS to Latin America & Caribbean;
  TF, IO to Africa; AQ (no M49 region) to Asia & Pacific.

Deployments that disagree can override single entries with a JSON file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["CSP_REGIONS", "RegionTable"]

CSP_REGIONS: frozenset[str] = frozenset(
    {
        "Africa",
        "Asia & Pacific",
        "Australia",
        "Brazil",
        "Canada",
        "Europe",
        "India",
        "Japan",
        "Korea",
        "Latin America & Caribbean",
        "Middle East, Central & Eastern Europe",
        "New Zealand",
        "Taiwan",
        "United States",
    }
)
_BY_FOLDED_NAME = {name.casefold(): name for name in CSP_REGIONS}

_DATA_PACKAGE = "services.domain"
_DATA_FILE = "data/country_regions.json"


def _is_country_code(key: object) -> bool:
    return (
        isinstance(key, str) and len(key) == 2 and key.isascii() and key.isalpha() and key.isupper()
    )


class RegionTable:
    """An immutable country-to-region mapping."""

    __slots__ = ("_mapping",)

    _mapping: Mapping[str, str]

    def __init__(self, mapping: Mapping[str, str]) -> None:
        bad_keys = sorted(repr(k) for k in mapping if not _is_country_code(k))
        if bad_keys:
            raise ValueError(
                "country codes must be two upper-case ASCII letters (ISO 3166-1 alpha-2); got "
                + ", ".join(bad_keys)
            )
        bad_values = sorted(f"{k}={v!r}" for k, v in mapping.items() if v not in CSP_REGIONS)
        if bad_values:
            raise ValueError(
                "unknown CSP region for "
                + ", ".join(bad_values)
                + "; expected one of: "
                + ", ".join(sorted(CSP_REGIONS))
            )
        object.__setattr__(self, "_mapping", MappingProxyType(dict(mapping)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RegionTable is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("RegionTable is immutable")

    def __len__(self) -> int:
        return len(self._mapping)

    def __contains__(self, country: object) -> bool:
        return country in self._mapping

    def __repr__(self) -> str:
        return f"RegionTable({len(self._mapping)} countries)"

    @property
    def mapping(self) -> Mapping[str, str]:
        """Read-only view of the whole table."""
        return self._mapping

    @classmethod
    def default(cls) -> RegionTable:
        """The table shipped with the package (loaded once)."""
        return _default_table()

    @classmethod
    def load(cls, override_path: str | os.PathLike[str] | None = None) -> RegionTable:
        """The default table, with entries from the JSON object at ``override_path`` winning."""
        if override_path is None:
            return cls.default()
        with open(override_path, encoding="utf-8") as f:
            try:
                override = json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"region override {os.fspath(override_path)!r} is not valid JSON: {exc}"
                ) from exc
        if not isinstance(override, dict):
            raise ValueError(  # noqa: TRY004 - a bad configuration file, reported like the others
                f"region override {os.fspath(override_path)!r} must be a JSON object of country code to region"
            )
        return cls({**cls.default().mapping, **override})

    def region_for(self, country: str | None, explicit_region: str | None = None) -> str | None:
        """The CSP region: a known ``explicit_region`` wins, else the country's; None if unknown."""
        if isinstance(explicit_region, str):
            named = _BY_FOLDED_NAME.get(explicit_region.strip().casefold())
            if named is not None:
                return named
        if isinstance(country, str):
            return self._mapping.get(country.strip().upper())
        return None


@cache
def _default_table() -> RegionTable:
    text = resources.files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return RegionTable(json.loads(text))
