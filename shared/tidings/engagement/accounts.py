"""The account a user connected for a platform, as the comment actions need it (to hide a comment, to
post a reply): 409 `account_not_connected` when there is none."""

from __future__ import annotations

from tidings.core.errors import Conflict
from tidings.models.accounts import AccountCredentials
from tidings.publishing.messaging import CredentialSource


def connected_account(credentials: CredentialSource, user_id: str, platform: str) -> AccountCredentials:
    account = credentials.credentials(user_id, platform)
    if account is None:
        raise Conflict(
            f"no {platform} account is connected", {"platform": str(platform)}, code="account_not_connected"
        )
    return account
