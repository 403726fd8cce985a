"""An integration's credentials: checked against what its connector needs, split into settings (kept
as they are, shown to the user) and secrets (sealed by the vault, bound to the user and the
integration, shown only as a masked hint), and opened again for each call.

A social media integration's secrets are its connected account's tokens (`tidings.store.accounts`);
they are opened through the publishing side's token renewal, so a test uses the token the next
post would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tidings.core.clock import parse_iso
from tidings.core.errors import Conflict, ValidationFailed
from tidings.core.failures import PlatformCallError
from tidings.core.secrets import SealedSecret, SecretVault, mask
from tidings.integrations.connectors.base import (
    ConfigurableConnector,
    Connector,
    ConnectorCredentials,
    ConnectorError,
)
from tidings.models.accounts import AccountCredentials, check_token
from tidings.models.integrations import Integration, Status
from tidings.store.accounts import AccountRepository
from tidings.store.integrations import IntegrationRepository

MAX_VALUE = 8192


class AccountTokens(Protocol):
    """A connected account's usable token, renewed first when it is about to expire
    (`tidings.publishing.tokens.FreshCredentials`). Raises PlatformCallError when renewal fails."""

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None: ...


@dataclass(frozen=True)
class SplitCredentials:
    settings: dict[str, str]
    secrets: dict[str, str]
    expires_at: datetime | None

    @property
    def hint(self) -> str | None:
        return mask(next(iter(self.secrets.values()))) if self.secrets else None


def subject(integration_id: str) -> str:
    """What a sealed secret is bound to besides its owner."""
    return f"integration:{integration_id}"


class IntegrationCredentials:
    def __init__(
        self,
        vault: SecretVault,
        repository: IntegrationRepository,
        accounts: AccountRepository,
        tokens: AccountTokens,
    ) -> None:
        self.vault = vault
        self.repo = repository
        self.accounts = accounts
        self.tokens = tokens

    def split(
        self, connector: Connector, credentials: Mapping[str, Any], *, social: bool
    ) -> SplitCredentials:
        """Check `credentials` against what the connector takes; ValidationFailed
        (`invalid_credentials`) names the unknown, missing or malformed ones, and a
        `ConfigurableConnector` checks the settings and secrets together (with codes of its own)."""
        secret_names = set(connector.required_secrets) | set(connector.optional_secrets)
        if social:
            secret_names.add("refreshToken")
        checker = connector if isinstance(connector, ConfigurableConnector) else None
        optional = set(checker.optional_settings) if checker is not None else set()
        allowed = set(connector.required_settings) | optional | secret_names | {"expiresAt"}
        unknown = sorted(k for k in credentials if k not in allowed)
        missing = sorted(
            k for k in (*connector.required_settings, *connector.required_secrets) if not credentials.get(k)
        )
        if unknown or missing:
            raise ValidationFailed(
                "the credentials do not fit this platform",
                {"field": "credentials", "unknown": unknown, "missing": missing, "accepted": sorted(allowed)},
                code="invalid_credentials",
            )
        settings: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for key, value in credentials.items():
            if key == "expiresAt":
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
                raise ValidationFailed(
                    f"credentials.{key} must be a non-empty string of at most {MAX_VALUE} characters",
                    {"field": f"credentials.{key}"},
                    code="invalid_credentials",
                )
            if key in secret_names:
                check_token(value, f"credentials.{key}")
                secrets[key] = value
            else:
                settings[key] = value.strip()
        if checker is not None:
            checker.validate_credentials(ConnectorCredentials(settings, secrets))
        return SplitCredentials(settings, secrets, _expiry(credentials.get("expiresAt")))

    def keep(self, integration: Integration, split: SplitCredentials) -> SealedSecret | None:
        """Put the secrets where they live: a social integration's into its connected account (None
        comes back), any other's sealed for the integration's record."""
        if integration.social:
            self.accounts.connect(
                integration.user_id,
                integration.provider,
                split.settings["accountId"],
                split.secrets["accessToken"],
                refresh_token=split.secrets.get("refreshToken"),
                expires_at=split.expires_at,
            )
            return None
        if not split.secrets:
            return None
        return self.vault.seal(integration.user_id, subject(integration.integration_id), split.secrets)

    def open(self, integration: Integration) -> ConnectorCredentials:
        """The settings and opened secrets a connector call needs. Conflict when the integration is
        disconnected; ConnectorError (`auth_failed`) when a social account's token is gone or cannot
        be renewed."""
        if integration.status == Status.DISCONNECTED:
            raise Conflict(
                "the integration is disconnected; connect it first",
                {"integrationId": integration.integration_id},
                code="integration_disconnected",
            )
        if integration.social:
            try:
                creds = self.tokens.credentials(integration.user_id, integration.provider)
            except PlatformCallError as exc:
                raise ConnectorError("auth_failed", exc.message) from None
            if creds is None:
                raise ConnectorError("auth_failed", f"no {integration.provider} account is connected")
            return ConnectorCredentials({"accountId": creds.account_id}, {"accessToken": creds.access_token})
        sealed = self.repo.sealed(integration.user_id, integration.integration_id)
        if sealed is None:
            return ConnectorCredentials(dict(integration.settings), {})
        opened = self.vault.open(integration.user_id, subject(integration.integration_id), sealed)
        return ConnectorCredentials(dict(integration.settings), {k: str(v) for k, v in opened.items()})


def _expiry(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_iso(str(raw))
    except ValueError:
        raise ValidationFailed(
            "credentials.expiresAt must be an ISO 8601 time with an offset",
            {"field": "credentials.expiresAt"},
            code="invalid_credentials",
        ) from None
