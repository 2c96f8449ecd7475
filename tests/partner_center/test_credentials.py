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
