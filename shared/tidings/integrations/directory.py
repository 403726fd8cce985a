"""The integrations as a user sees them, what every integration use-case reads and records through.

Social media integrations are the connected platform accounts: their tokens live in the account
record, so publishing and the integrations use one credential store. An account connected through
`POST /accounts` shows up here as `social-<platform>` with default settings, and is stored as an
integration the first time something about it changes.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, NotFound
from tidings.core.platforms import ACCOUNT_PLATFORMS
from tidings.integrations.connectors.base import ConnectorError
from tidings.models.accounts import Account
from tidings.models.integrations import SOCIAL_PREFIX, Integration, Status, social_id
from tidings.store.accounts import AccountRepository
from tidings.store.audit import AuditEntry, AuditRepository
from tidings.store.integrations import IntegrationRepository

SETTLE_ATTEMPTS = 5
# Errors that say the credentials or settings are wrong: the integration is marked `error`.
CREDENTIAL_ERRORS = ("auth_failed", "invalid_settings", "not_found")


class IntegrationDirectory:
    def __init__(self, repository: IntegrationRepository, accounts: AccountRepository) -> None:
        self.repo = repository
        self.accounts = accounts

    def for_user(self, user_id: str) -> list[Integration]:
        stored = {i.integration_id: i for i in self.repo.for_user(user_id)}
        for account in self.accounts.list(user_id):
            sid = social_id(account.platform)
            if sid not in stored:
                stored[sid] = _default_social(user_id, account)
        return sorted(stored.values(), key=lambda i: (i.type, i.created_at, i.integration_id))

    def get(self, user_id: str, integration_id: str) -> Integration:
        """The integration, or NotFound (also for another user's)."""
        found = self.repo.get(user_id, integration_id)
        if found is not None:
            return found
        platform = integration_id.removeprefix(SOCIAL_PREFIX)
        if integration_id.startswith(SOCIAL_PREFIX) and platform in ACCOUNT_PLATFORMS:
            account = self.accounts.get(user_id, platform)
            if account is not None:
                return _default_social(user_id, account)
        raise NotFound("no such integration", {"integrationId": integration_id}, code="integration_not_found")

    def stored(self, user_id: str, integration_id: str) -> Integration:
        """The integration as stored, storing a social account's default record first."""
        integration = self.get(user_id, integration_id)
        if self.repo.get(user_id, integration_id) is None:
            # counted in the quota but never refused by it: the account is connected already
            with contextlib.suppress(Conflict):  # created meanwhile by another request
                self.repo.create(integration, None, replace_existing=False, limit=None)
            return self.repo.require(user_id, integration_id)
        return integration

    def account(self, integration: Integration) -> Account | None:
        """The connected account behind a social integration (None for any other)."""
        if not integration.social:
            return None
        return self.accounts.get(integration.user_id, integration.provider)

    def settle(
        self, integration: Integration, *, error: ConnectorError | None, **outcomes: Any
    ) -> Integration:
        """Store a test or sync outcome on the latest copy of the integration: connected again when
        it worked, `error` when the credentials or settings were refused."""
        for _ in range(SETTLE_ATTEMPTS):
            latest = self.repo.require(integration.user_id, integration.integration_id)
            status = latest.status
            if latest.status != Status.DISCONNECTED:
                if error is None:
                    status = Status.CONNECTED
                elif error.code in CREDENTIAL_ERRORS:
                    status = Status.ERROR
            try:
                return self.repo.save(replace(latest, status=status, **outcomes), True)
            except Conflict:
                continue
        raise Conflict(
            "the integration is changing too often to record the outcome; try again",
            {"integrationId": integration.integration_id},
            code="integration_busy",
        )


def _default_social(user_id: str, account: Account) -> Integration:
    return Integration(
        user_id=user_id,
        integration_id=social_id(account.platform),
        name=account.platform,
        type="social_media",
        provider=account.platform,
        status=Status.CONNECTED,
        created_at=account.connected_at,
        updated_at=account.connected_at,
        settings={"accountId": account.account_id},
        secret_hint=account.token_hint,
        expires_at=account.expires_at,
    )


def record_change(
    audit: AuditRepository,
    user_id: str,
    action: str,
    integration: Integration,
    details: dict[str, Any],
    clock: Clock = DEFAULT_CLOCK,
) -> None:
    """One entry of the user's audit trail about an integration (never a secret in `details`)."""
    audit.record(
        user_id,
        AuditEntry(
            at=clock.now(),
            actor=user_id,
            action=action,
            target=f"integration:{integration.integration_id}",
            details=details,
        ),
    )
