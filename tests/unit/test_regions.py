"""The shipped country-to-CSP-region table and RegionTable's lookup rules."""

import json
from importlib import resources

import pytest

from services.domain.regions import CSP_REGIONS, RegionTable

MCEE = "Middle East, Central & Eastern Europe"


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("JP", "Japan"),
        ("DE", "Europe"),
        ("GB", "Europe"),
        ("CH", "Europe"),
        ("NO", "Europe"),
        ("PL", "Europe"),
        ("ZA", MCEE),
        ("AE", MCEE),
        ("TR", MCEE),
        ("UA", MCEE),
        ("EG", MCEE),
        ("NG", "Africa"),
        ("KE", "Africa"),
        ("US", "United States"),
        ("PR", "United States"),
        ("CA", "Canada"),
        ("BR", "Brazil"),
        ("MX", "Latin America & Caribbean"),
        ("AR", "Latin America & Caribbean"),
        ("IN", "India"),
        ("KR", "Korea"),
        ("TW", "Taiwan"),
        ("AU", "Australia"),
        ("NZ", "New Zealand"),
        ("SG", "Asia & Pacific"),
        ("CN", "Asia & Pacific"),
    ],
)
def test_default_table(country, region):
    assert RegionTable.default().region_for(country) == region


def test_shipped_table_is_complete_and_valid():
    table = RegionTable.default()
    assert len(table) >= 240
    assert set(table.mapping.values()) <= CSP_REGIONS
    # Every region is reachable from some country.
    assert set(table.mapping.values()) == CSP_REGIONS


def test_data_file_is_a_package_resource():
    res = resources.files("services.domain").joinpath("data/country_regions.json")
    assert res.is_file()
    data = json.loads(res.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and all(isinstance(v, str) for v in data.values())


def test_default_is_cached():
    assert RegionTable.default() is RegionTable.default()
    assert RegionTable.load() is RegionTable.default()


@pytest.mark.parametrize(
    ("country", "explicit", "region"),
    [
        ("JP", "Europe", "Europe"),
        ("JP", "europe", "Europe"),
        ("JP", "  latin america & CARIBBEAN ", "Latin America & Caribbean"),
        (None, "Korea", "Korea"),
        ("ZZ", "Taiwan", "Taiwan"),
        ("JP", "Atlantis", "Japan"),  # an unknown region name does not win
        ("JP", "", "Japan"),
        ("JP", None, "Japan"),
    ],
)
def test_explicit_region_wins_when_known(country, explicit, region):
    assert RegionTable.default().region_for(country, explicit) == region


@pytest.mark.parametrize(
    ("country", "region"), [("jp", "Japan"), (" de ", "Europe"), ("\tUs\n", "United States")]
)
def test_country_is_normalised(country, region):
    assert RegionTable.default().region_for(country) == region


@pytest.mark.parametrize("country", [None, "", "  ", "ZZ", "XK", "DEU", "D", 49])
def test_unknown_country_is_none(country):
    assert RegionTable.default().region_for(country) is None


def test_override_file_wins(tmp_path):
    path = tmp_path / "regions.json"
    path.write_text(json.dumps({"JP": "Asia & Pacific", "ZZ": "Europe"}), encoding="utf-8")
    table = RegionTable.load(path)
    assert table.region_for("JP") == "Asia & Pacific"
    assert table.region_for("ZZ") == "Europe"
    assert table.region_for("DE") == "Europe"
    assert len(table) == len(RegionTable.default()) + 1
    assert RegionTable.load(str(path)).mapping == table.mapping
    # The shipped table is untouched.
    assert RegionTable.default().region_for("JP") == "Japan"


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"JP": "Asia"}),
        json.dumps({"jp": "Japan"}),
        json.dumps({"JPN": "Japan"}),
        json.dumps({"J1": "Japan"}),
        json.dumps({"JP": None}),
        json.dumps(["JP", "Japan"]),
        "{not json",
    ],
)
def test_invalid_override_raises_value_error(tmp_path, content):
    path = tmp_path / "regions.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError):
        RegionTable.load(path)


def test_constructor_validates():
    assert RegionTable({"JP": "Japan"}).region_for("jp") == "Japan"
    with pytest.raises(ValueError, match="two upper-case"):
        RegionTable({"Jp": "Japan"})
    with pytest.raises(ValueError, match="unknown CSP region"):
        RegionTable({"JP": "japan"})


def test_table_is_immutable():
    source = {"JP": "Japan"}
    table = RegionTable(source)
    source["JP"] = "Korea"
    assert table.region_for("JP") == "Japan"
    with pytest.raises(AttributeError):
        table.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        table.mapping["JP"] = "Korea"  # type: ignore[index]
