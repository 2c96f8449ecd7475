"""Per-distributor Partner Center credentials, from the JSON file `PORGATE_PARTNER_CENTER_CREDENTIALS_FILE`.

    {"dist-eu-1": {"tenantId": "...", "clientId": "...", "clientSecret": "...",
                   "refreshToken": "..."}}

`clientSecretEnv` / `refreshTokenEnv` name an environment variable holding the secret
instead. A refresh token (app+user) is needed only to list indirect resellers. Each
distributor is its own Partner Center tenant; one without an entry cannot be validated
through Partner Center. Errors name the distributor and the field, never a secret's value.

Microsoft Graph (GDAP discovery and termination) uses the same app registration in the same
tenant with Graph's scope, so an existing entry needs nothing more. Where the Graph
permission (`DelegatedAdminRelationship.ReadWrite.All`) sits on another app of that tenant,
`graphClientId` with `graphClientSecret` (or `graphClientSecretEnv`) name it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

# Unknown keys are refused: a misspelt "refreshTokenENV" would otherwise silently turn the
# app+user calls off.
_KNOWN_FIELDS = frozenset(
    {
        "tenantId",
        "clientId",
        "clientSecret",
        "clientSecretEnv",
        "refreshToken",
        "refreshTokenEnv",
        "graphClientId",
        "graphClientSecret",
        "graphClientSecretEnv",
    }
)


class CredentialsError(ValueError):
    """The credentials file cannot be used; the message says which distributor and field."""


@dataclass(frozen=True)
class DistributorCredentials:
    distributor_id: str
    tenant_id: str
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr | None = None
    # Another app of the same tenant for Graph; None: the Partner Center app above.
    graph_client_id: str | None = None
    graph_client_secret: SecretStr | None = None

    @property
    def graph_app(self) -> tuple[str, SecretStr]:
        """The client id and secret Graph tokens are requested with."""
        if self.graph_client_id is not None and self.graph_client_secret is not None:
            return self.graph_client_id, self.graph_client_secret
        return self.client_id, self.client_secret

    @property
    def acts_as_user(self) -> bool:
        """True when app+user calls (the indirect-reseller list) are possible."""
        return self.refresh_token is not None


@dataclass(frozen=True)
class Coverage:
    """Which distributors Partner Center can validate for, and which it cannot."""

    validated: tuple[str, ...]
    not_validated: tuple[str, ...]
    without_user_calls: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """One sentence for the start-up log."""
        parts = [f"Partner Center validates for {', '.join(self.validated) or 'no distributor'}"]
        if self.not_validated:
            parts.append(
                f"no credentials for {', '.join(self.not_validated)}: "
                "they cannot be validated through Partner Center"
            )
        if self.without_user_calls:
            parts.append(
                f"no refresh token for {', '.join(self.without_user_calls)}: "
                "their indirect resellers cannot be listed"
            )
        return "; ".join(parts)


def coverage(
    credentials: Mapping[str, DistributorCredentials], distributor_ids: Iterable[str]
) -> Coverage:
    """Split the distributors porgate serves by whether their credentials are configured."""
    wanted = sorted(set(distributor_ids) | set(credentials))
    return Coverage(
        validated=tuple(d for d in wanted if d in credentials),
        not_validated=tuple(d for d in wanted if d not in credentials),
        without_user_calls=tuple(
            d for d in wanted if d in credentials and not credentials[d].acts_as_user
        ),
    )


def load_credentials(
    path: str | os.PathLike | None, environ: Mapping[str, str] | None = None
) -> dict[str, DistributorCredentials]:
    """The file's credentials by distributor id; no file configured means none."""
    if path is None:
        return {}
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(
            f"PORGATE_PARTNER_CENTER_CREDENTIALS_FILE names {file}, which does not exist"
        ) from None
    except OSError as exc:
        raise CredentialsError(f"cannot read the credentials file {file}: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the excerpt JSONDecodeError can carry might be a secret.
        raise CredentialsError(
            f"the credentials file {file} is not JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    return parse_credentials(raw, os.environ if environ is None else environ)


def parse_credentials(raw: object, environ: Mapping[str, str]) -> dict[str, DistributorCredentials]:
    if not isinstance(raw, dict):
        raise CredentialsError(
            "the credentials file must hold one JSON object: distributor id -> credentials"
        )
    return {
        str(distributor): _entry(str(distributor), entry, environ)
        for distributor, entry in raw.items()
    }


def _entry(distributor: str, entry: object, environ: Mapping[str, str]) -> DistributorCredentials:
    if not distributor.strip():
        raise CredentialsError("a distributor id in the credentials file is empty")
    if not isinstance(entry, dict):
        raise CredentialsError(f"{distributor}: credentials must be a JSON object")
    unknown = sorted(set(entry) - _KNOWN_FIELDS)
    if unknown:
        raise CredentialsError(
            f"{distributor}: unknown field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_KNOWN_FIELDS))}"
        )
    secret = _secret(distributor, entry, "clientSecret", environ)
    if secret is None:
        raise CredentialsError(f"{distributor}: clientSecret or clientSecretEnv is required")
    graph_client_id = (
        _text(distributor, entry, "graphClientId") if "graphClientId" in entry else None
    )
    graph_secret = _secret(distributor, entry, "graphClientSecret", environ)
    if (graph_client_id is None) != (graph_secret is None):
        raise CredentialsError(
            f"{distributor}: graphClientId and graphClientSecret (or graphClientSecretEnv) go"
            " together; leave both out to use clientId for Graph too"
        )
    return DistributorCredentials(
        distributor_id=distributor,
        tenant_id=_text(distributor, entry, "tenantId"),
        client_id=_text(distributor, entry, "clientId"),
        client_secret=secret,
        refresh_token=_secret(distributor, entry, "refreshToken", environ),
        graph_client_id=graph_client_id,
        graph_client_secret=graph_secret,
    )


def _text(distributor: str, entry: dict, name: str) -> str:
    value = entry.get(name)
    if value is None:
        raise CredentialsError(f"{distributor}: {name} is required")
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(f"{distributor}: {name} must be a non-empty string")
    return value.strip()


def _secret(
    distributor: str, entry: dict, name: str, environ: Mapping[str, str]
) -> SecretStr | None:
    """`name` given inline or through `nameEnv`; the value itself never appears in an error."""
    env_field = f"{name}Env"
    if name in entry and env_field in entry:
        raise CredentialsError(f"{distributor}: give {name} or {env_field}, not both")
    if env_field in entry:
        variable = _text(distributor, entry, env_field)
        value = environ.get(variable)
        if not value:
            raise CredentialsError(
                f"{distributor}: {env_field} names the environment variable {variable}, "
                "which is unset or empty"
            )
        return SecretStr(value)
    if name in entry:
        value = entry[name]
        if not isinstance(value, str) or not value:
            raise CredentialsError(f"{distributor}: {name} must be a non-empty string")
        return SecretStr(value)
    return None
