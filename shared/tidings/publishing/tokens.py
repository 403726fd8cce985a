"""Credentials for publishing, renewed before they expire.

The publish step asks for an account's credentials; this source answers from the account store and,
when the access token expires within the refresh margin and the platform supports OAuth 2.0 refresh
(X, LinkedIn, YouTube, TikTok), renews it first and stores the new tokens (conditionally, so two
functions refreshing at once keep one result). A token that has expired and cannot be renewed stops
with auth_expired before anything is sent.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from tidings.core.clock import Clock, iso_ms
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.models.accounts import AccountCredentials
from tidings.publishing.oauth import needs_refresh

if TYPE_CHECKING:
    from tidings.models.accounts import StoredCredentials
    from tidings.store.accounts import AccountRepository


class Grant(Protocol):
    @property
    def access_token(self) -> str: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime | None: ...


class Refresher(Protocol):
    def supports(self, platform: str) -> bool: ...
    def refresh(self, platform: str, refresh_token: str) -> Grant: ...


class FreshCredentials:
    def __init__(
        self, store: AccountRepository, refresher: Refresher | None, clock: Clock, margin_seconds: int
    ) -> None:
        self.store = store
        self.refresher = refresher
        self.clock = clock
        self.margin_seconds = margin_seconds
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None:
        stored = self.store.stored(user_id, platform)
        if stored is None:
            return None
        if not needs_refresh(stored.account.expires_at, self.clock.now(), self.margin_seconds):
            return stored.for_client()
        if self.refresher is None or not stored.account.refreshable or not stored.refresh_token:
            return self._usable(stored).for_client()
        with self._guard:
            lock = self._locks[(user_id, platform)]
        with lock:
            return self._refresh(user_id, platform).for_client()

    def _refresh(self, user_id: str, platform: str) -> StoredCredentials:
        from tidings.models.accounts import CredentialsChanged

        assert self.refresher is not None
        stored = self.store.stored(user_id, platform, fresh=True)
        if stored is None:
            raise PlatformCallError(
                ErrorKind.PERMANENT, "account_not_connected", f"the {platform} account was disconnected"
            )
        if not needs_refresh(stored.account.expires_at, self.clock.now(), self.margin_seconds):
            return stored  # another caller renewed it meanwhile
        assert stored.refresh_token is not None
        try:
            grant = self.refresher.refresh(platform, stored.refresh_token)
        except PlatformCallError:
            if self._still_valid(stored):
                return stored  # renew next time; the current token still works for now
            raise
        try:
            return self.store.store_refreshed(
                stored, grant.access_token, grant.refresh_token, grant.expires_at
            )
        except CredentialsChanged:
            latest = self.store.stored(user_id, platform, fresh=True)
            if latest is None:
                raise PlatformCallError(
                    ErrorKind.PERMANENT, "account_not_connected", f"the {platform} account was disconnected"
                ) from None
            return latest

    def _still_valid(self, stored: StoredCredentials) -> bool:
        expires = stored.account.expires_at
        return expires is None or expires > self.clock.now()

    def _usable(self, stored: StoredCredentials) -> StoredCredentials:
        if self._still_valid(stored):
            return stored
        expires = stored.account.expires_at
        assert expires is not None
        raise PlatformCallError(
            ErrorKind.AUTH_EXPIRED,
            "token_expired",
            f"the {stored.account.platform} access token expired at {iso_ms(expires)} and cannot be renewed "
            "automatically; reconnect the account (POST /accounts)",
        )
