"""The credentials file: what it accepts, and errors that name the distributor and field but
never a secret."""

from __future__ import annotations

import json

import pytest

from services.partner_center.credentials import (
    CredentialsError,
    coverage,
    load_credentials,
    parse_credentials,
)

SECRET = "s3cr3t-value"
ENV = {"DIST_EU_SECRET": SECRET, "DIST_EU_RT": "rt-from-env", "EMPTY": ""}


def entry(**fields) -> dict:
    return {"tenantId": "t-1", "clientId": "c-1", **fields}


def test_an_inline_secret_gives_app_only_credentials():
    parsed = parse_credentials({"dist-eu-1": entry(clientSecret=SECRET)}, ENV)

    creds = parsed["dist-eu-1"]
    assert (creds.distributor_id, creds.tenant_id, creds.client_id) == ("dist-eu-1", "t-1", "c-1")
    assert creds.client_secret.get_secret_value() == SECRET
    assert not creds.acts_as_user
    assert SECRET not in repr(creds)


def test_secrets_named_by_environment_variables_are_read_from_the_environment():
    raw = {"dist-eu-1": entry(clientSecretEnv="DIST_EU_SECRET", refreshTokenEnv="DIST_EU_RT")}

    creds = parse_credentials(raw, ENV)["dist-eu-1"]

    assert creds.client_secret.get_secret_value() == SECRET
    assert creds.refresh_token is not None
    assert creds.refresh_token.get_secret_value() == "rt-from-env"
    assert creds.acts_as_user


def test_an_inline_refresh_token_enables_app_user_calls():
    creds = parse_credentials({"d": entry(clientSecret=SECRET, refreshToken="rt")}, ENV)["d"]
    assert creds.acts_as_user


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "one JSON object"),
        ({"dist-eu-1": "x"}, "dist-eu-1: credentials must be a JSON object"),
        (
            {"dist-eu-1": {"clientId": "c", "clientSecret": SECRET}},
            "dist-eu-1: tenantId is required",
        ),
        ({"dist-eu-1": entry(clientId="", clientSecret=SECRET)}, "dist-eu-1: clientId must be"),
        ({"dist-eu-1": entry()}, "dist-eu-1: clientSecret or clientSecretEnv is required"),
        (
            {"dist-eu-1": entry(clientSecret=SECRET, clientSecretEnv="DIST_EU_SECRET")},
            "dist-eu-1: give clientSecret or clientSecretEnv, not both",
        ),
        (
            {"dist-eu-1": entry(clientSecretEnv="NOT_SET")},
            "dist-eu-1: clientSecretEnv names the environment variable NOT_SET, which is unset",
        ),
        (
            {"dist-eu-1": entry(clientSecret=SECRET, refreshTokenEnv="EMPTY")},
            "dist-eu-1: refreshTokenEnv names the environment variable EMPTY, which is unset or empty",
        ),
        (
            {"dist-eu-1": entry(clientSecret=SECRET, refreshTokenENV="DIST_EU_RT")},
            "dist-eu-1: unknown field.s. refreshTokenENV",
        ),
        ({"dist-eu-1": entry(clientSecret=12345)}, "dist-eu-1: clientSecret must be a non-empty"),
        ({" ": entry(clientSecret=SECRET)}, "distributor id .* is empty"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_distributor_and_field(raw, message):
    with pytest.raises(CredentialsError, match=message) as failure:
        parse_credentials(raw, ENV)
    assert SECRET not in str(failure.value) and "12345" not in str(failure.value)


def test_no_file_configured_means_no_distributor_is_validated_through_partner_center():
    assert load_credentials(None, ENV) == {}


def test_a_missing_file_is_named_in_the_error(tmp_path):
    with pytest.raises(CredentialsError, match="CREDENTIALS_FILE names .*nope.json, which does"):
        load_credentials(tmp_path / "nope.json", ENV)


def test_a_file_that_is_not_json_gives_the_position_and_never_the_content(tmp_path):
    path = tmp_path / "creds.json"
    path.write_text('{"dist-eu-1": {"clientSecret": "' + SECRET + '" "tenantId": "t"}}')

    with pytest.raises(CredentialsError, match=r"not JSON \(line 1, column \d+\)") as failure:
        load_credentials(path, ENV)
    assert SECRET not in str(failure.value)


def test_a_file_is_read_with_its_environment_references(tmp_path):
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"dist-eu-1": entry(clientSecretEnv="DIST_EU_SECRET")}))

    assert load_credentials(path, ENV)["dist-eu-1"].client_secret.get_secret_value() == SECRET


def test_coverage_says_who_can_be_validated_and_who_cannot_list_resellers():
    creds = parse_credentials(
        {"dist-a": entry(clientSecret="x", refreshToken="r"), "dist-b": entry(clientSecret="y")},
        ENV,
    )

    covered = coverage(creds, ["dist-a", "dist-c"])

    assert covered.validated == ("dist-a", "dist-b")
    assert covered.not_validated == ("dist-c",)
    assert covered.without_user_calls == ("dist-b",)
    assert covered.describe() == (
        "Partner Center validates for dist-a, dist-b; no credentials for dist-c: they cannot be "
        "validated through Partner Center; no refresh token for dist-b: their indirect "
        "resellers cannot be listed"
    )


def test_an_existing_entry_gives_graph_the_same_app_registration():
    creds = parse_credentials({"dist-eu-1": entry(clientSecret=SECRET)}, ENV)["dist-eu-1"]
    client_id, secret = creds.graph_app
    assert (client_id, secret.get_secret_value()) == ("c-1", SECRET)


def test_a_graph_app_of_the_same_tenant_can_be_named_inline_or_through_the_environment():
    parsed = parse_credentials(
        {
            "a": entry(clientSecret=SECRET, graphClientId="g-1", graphClientSecret="g-secret"),
            "b": entry(clientSecret=SECRET, graphClientId="g-2", graphClientSecretEnv="DIST_EU_RT"),
        },
        ENV,
    )
    assert [(c.graph_app[0], c.graph_app[1].get_secret_value()) for c in parsed.values()] == [
        ("g-1", "g-secret"),
        ("g-2", "rt-from-env"),
    ]
    assert all(c.tenant_id == "t-1" for c in parsed.values())


@pytest.mark.parametrize(
    "fields",
    [{"graphClientId": "g-1"}, {"graphClientSecret": "g-secret"}],
)
def test_a_graph_app_needs_both_its_id_and_its_secret(fields):
    with pytest.raises(CredentialsError) as err:
        parse_credentials({"dist-eu-1": entry(clientSecret=SECRET, **fields)}, ENV)
    assert "dist-eu-1: graphClientId and graphClientSecret" in str(err.value)
    assert "g-secret" not in str(err.value)


async def test_a_graph_token_is_requested_with_graphs_scope_for_each_distributor():
    from services.graph import standin
    from services.graph.auth import GraphTokens

    graph = standin.GraphStandin(
        {
            "t-eu": standin.GraphTenant("c-eu", "s-eu"),
            "t-jp": standin.GraphTenant("g-jp", "gs-jp"),
        }
    )
    parsed = parse_credentials(
        {
            "dist-eu": {"tenantId": "t-eu", "clientId": "c-eu", "clientSecret": "s-eu"},
            "dist-jp": {
                "tenantId": "t-jp",
                "clientId": "pc-jp",
                "clientSecret": "pcs-jp",
                "graphClientId": "g-jp",
                "graphClientSecret": "gs-jp",
            },
        },
        {},
    )
    async with standin.serving(graph) as base:
        tokens = GraphTokens(parsed, authority_url=base, margin_s=60, timeout_s=5)
        try:
            eu, jp = await tokens.token("dist-eu"), await tokens.token("dist-jp")
            assert await tokens.token("dist-eu") == eu  # cached
        finally:
            await tokens.aclose()
    # Each token was issued by its distributor's own tenant, for Graph.
    assert graph._tokens[eu][0] == "t-eu" and graph._tokens[jp][0] == "t-jp"
    assert graph.calls["token"] == 2
