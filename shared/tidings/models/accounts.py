"""Connected platform accounts as entities: what a user may see of one, and its opened tokens.

The documented shape of each platform's account id and which platforms renew tokens are platform
facts (`tidings.core.platforms.SPECS`); the checks here apply them to what a caller gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.platforms import ACCOUNT_PLATFORMS, REFRESHABLE_PLATFORMS, SPECS
from tidings.core.secrets import mask

MAX_TOKEN = 8192


@dataclass(frozen=True)
class AccountCredentials:
    """A connected platform account. `account_id` is the Page id (Facebook), IG user id
    (Instagram), X user id (twitter), person/organization URN (LinkedIn), channel id (YouTube)
    or open id (TikTok), or phone-number id (WhatsApp)."""

    platform: str
    account_id: str
    access_token: str = field(repr=False)

    def __repr__(self) -> str:  # never print a token
        return f"AccountCredentials(platform={self.platform!s}, account_id={self.account_id!r})"


@dataclass(frozen=True)
class Account:
    """A connected account as the user may see it: no secret, a masked hint at most."""

    user_id: str
    platform: str
    account_id: str
    connected_at: datetime
    expires_at: datetime | None
    has_refresh_token: bool
    token_hint: str
    refreshed_at: datetime | None = None
    revision: int = 1

    @property
    def refreshable(self) -> bool:
        return self.has_refresh_token and self.platform in REFRESHABLE_PLATFORMS


@dataclass(frozen=True)
class StoredCredentials:
    account: Account
    access_token: str
    refresh_token: str | None

    def __repr__(self) -> str:  # never print a token
        return (
            f"StoredCredentials(platform={self.account.platform!r}, account_id={self.account.account_id!r})"
        )

    def for_client(self) -> AccountCredentials:
        return AccountCredentials(
            platform=self.account.platform, account_id=self.account.account_id, access_token=self.access_token
        )


class CredentialsChanged(Exception):
    """Another writer stored new tokens for the account first."""


def check_platform(platform: str) -> str:
    if platform not in ACCOUNT_PLATFORMS:
        raise ValidationFailed(
            f"unknown platform: {platform!r}",
            {"field": "platform", "value": platform, "supported": list(ACCOUNT_PLATFORMS)},
            code="unknown_platform",
        )
    return platform


def check_account_id(platform: str, account_id: str) -> None:
    expected = SPECS[platform].account_id_expected
    if not SPECS[platform].account_id.match(account_id):
        raise ValidationFailed(
            f"not a {platform} account id: expected {expected}",
            {"field": "accountId", "platform": platform, "expected": expected},
            code="invalid_account_id",
        )


def check_token(value: str, field: str) -> None:
    # the value itself never goes into the error
    if not value.strip() or len(value) > MAX_TOKEN or any(c.isspace() for c in value):
        raise ValidationFailed(
            f"{field} must be a non-empty token of at most {MAX_TOKEN} characters without spaces",
            {"field": field},
            code="invalid_token",
        )


def account_subject(platform: str, account_id: str) -> str:
    """What an account's sealed tokens are bound to besides the user: this platform account."""
    return f"account:{platform}:{account_id}"


def token_secret(access_token: str, refresh_token: str | None) -> dict[str, str]:
    """The secret sealed for an account: its access token, and its refresh token when it has one."""
    secret = {"accessToken": access_token}
    if refresh_token is not None:
        secret["refreshToken"] = refresh_token
    return secret


def new_account(
    user_id: str,
    platform: str,
    account_id: str,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> Account:
    """A newly connected account, once the platform, the account id and the tokens are checked."""
    check_platform(platform)
    check_account_id(platform, account_id)
    check_token(access_token, "accessToken")
    if refresh_token is not None:
        check_token(refresh_token, "refreshToken")
    return Account(
        user_id=user_id,
        platform=platform,
        account_id=account_id,
        connected_at=now,
        expires_at=expires_at,
        has_refresh_token=refresh_token is not None,
        token_hint=mask(access_token),
    )


def renewed_account(
    account: Account, access_token: str, refresh_token: str | None, expires_at: datetime | None, now: datetime
) -> Account:
    """The account after a token renewal: a new revision, so a second renewal from the same read fails."""
    return replace(
        account,
        expires_at=expires_at,
        has_refresh_token=refresh_token is not None,
        token_hint=mask(access_token),
        refreshed_at=now,
        revision=account.revision + 1,
    )


def not_connected(platform: str) -> NotFound:
    return NotFound(f"no {platform} account is connected", {"platform": platform}, code="account_not_found")
