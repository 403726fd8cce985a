"""Connected accounts in memory, and a secret vault that needs no KMS.

`InMemoryAccountRepository` checks what it is given as the table's repository does (platform, account
id shape, tokens), seals the tokens with the vault it is given, refuses a token renewal when another
writer renewed first (CredentialsChanged), and records every change in its audit trail; its reads are
never cached, so a test sees each write at once.

`InMemorySecretVault` seals with AES-256-GCM under a data key per secret, wrapped under a key that
lives only in the vault object, binding the user and the subject as associated data: a sealed secret
opens only for the pair it was sealed for, and only in the vault that sealed it (CredentialError).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.platforms import ACCOUNT_PLATFORMS
from tidings.core.secrets import FORMAT_VERSION, CredentialError, SealedSecret, SecretVault
from tidings.models.accounts import (
    Account,
    AccountCredentials,
    CredentialsChanged,
    StoredCredentials,
    account_subject,
    check_platform,
    new_account,
    not_connected,
    renewed_account,
)
from tidings.store.accounts import account_audit, seal_tokens
from tidings.store.audit import AuditRepository
from tidings.store.memory.audit import InMemoryAuditRepository

_NONCE = 12


class InMemorySecretVault:
    """A SecretVault for tests and local runs without KMS."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key_id = "in-memory:" + os.urandom(4).hex()
        self._master = AESGCM(AESGCM.generate_key(bit_length=256))

    @staticmethod
    def _bound(user_id: str, subject_id: str) -> bytes:
        return json.dumps({"userId": user_id, "subjectId": subject_id}, sort_keys=True).encode()

    def seal(self, user_id: str, subject_id: str, secret: Mapping[str, Any]) -> SealedSecret:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = AESGCM.generate_key(bit_length=256)
        wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        bound = self._bound(user_id, subject_id)
        plaintext = json.dumps(dict(secret), separators=(",", ":")).encode()
        return SealedSecret(
            key_id=self.key_id,
            wrapped_key=wrap_nonce + self._master.encrypt(wrap_nonce, data_key, bound),
            nonce=nonce,
            ciphertext=AESGCM(data_key).encrypt(nonce, plaintext, bound),
        )

    def open(self, user_id: str, subject_id: str, sealed: SealedSecret) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if sealed.version != FORMAT_VERSION or sealed.key_id != self.key_id:
            raise CredentialError("the secret was not sealed by this vault", {})
        bound = self._bound(user_id, subject_id)
        wrap_nonce, wrapped = sealed.wrapped_key[:_NONCE], sealed.wrapped_key[_NONCE:]
        try:
            data_key = self._master.decrypt(wrap_nonce, wrapped, bound)
            plaintext = AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, bound)
        except (InvalidTag, ValueError) as exc:
            raise CredentialError("the secret cannot be opened for this owner and subject", {}) from exc
        opened = json.loads(plaintext)
        if not isinstance(opened, dict):
            raise CredentialError("the sealed secret is not an object", {})
        return opened

    def rotate(self, user_id: str, subject_id: str, sealed: SealedSecret) -> SealedSecret:
        return self.seal(user_id, subject_id, self.open(user_id, subject_id, sealed))


class InMemoryAccountRepository:
    def __init__(
        self,
        vault: SecretVault | None = None,
        audit: AuditRepository | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.vault: SecretVault = vault or InMemorySecretVault()
        self.audit: AuditRepository = audit or InMemoryAuditRepository()
        self.clock = clock
        self._records: dict[tuple[str, str], tuple[Account, SealedSecret]] = {}
        self._lock = threading.Lock()

    # -- writes ----------------------------------------------------------------------------------

    def connect(
        self,
        user_id: str,
        platform: str,
        account_id: str,
        access_token: str,
        *,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
    ) -> Account:
        account = new_account(
            user_id, platform, account_id, access_token, refresh_token, expires_at, self.clock.now()
        )
        sealed = seal_tokens(self.vault, account, access_token, refresh_token)
        with self._lock:
            self._records[(user_id, platform)] = (account, sealed)
        self._audit(user_id, "account.connected", account, {"tokenHint": account.token_hint})
        return account

    def store_refreshed(
        self,
        current: StoredCredentials,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
    ) -> StoredCredentials:
        acc = current.account
        updated = renewed_account(acc, access_token, refresh_token, expires_at, self.clock.now())
        sealed = seal_tokens(self.vault, updated, access_token, refresh_token)
        with self._lock:
            stored = self._records.get((acc.user_id, acc.platform))
            if stored is None or (stored[0].revision, stored[0].account_id) != (acc.revision, acc.account_id):
                raise CredentialsChanged()
            self._records[(acc.user_id, acc.platform)] = (updated, sealed)
        self._audit(
            acc.user_id, "account.token_renewed", updated, {"tokenHint": updated.token_hint}, actor="tidings"
        )
        return StoredCredentials(updated, access_token, refresh_token)

    def disconnect(self, user_id: str, platform: str) -> Account:
        check_platform(platform)
        with self._lock:
            record = self._records.pop((user_id, platform), None)
        if record is None:
            raise not_connected(platform)
        self._audit(user_id, "account.disconnected", record[0], {})
        return record[0]

    def rotate(self, user_id: str, platform: str) -> Account:
        check_platform(platform)
        with self._lock:
            record = self._records.get((user_id, platform))
            if record is None:
                raise not_connected(platform)
            account, sealed = record
            resealed = self.vault.rotate(user_id, account_subject(platform, account.account_id), sealed)
            self._records[(user_id, platform)] = (account, resealed)
        self._audit(user_id, "account.credentials_rotated", account, {})
        return account

    # -- reads -----------------------------------------------------------------------------------

    def get(self, user_id: str, platform: str) -> Account | None:
        with self._lock:
            record = self._records.get((user_id, platform))
        return record[0] if record else None

    def require(self, user_id: str, platform: str) -> Account:
        check_platform(platform)
        account = self.get(user_id, platform)
        if account is None:
            raise not_connected(platform)
        return account

    def list(self, user_id: str) -> list[Account]:
        with self._lock:
            accounts = [account for (uid, _), (account, _) in self._records.items() if uid == user_id]
        return sorted(accounts, key=lambda a: ACCOUNT_PLATFORMS.index(a.platform))

    def stored(self, user_id: str, platform: str, *, fresh: bool = False) -> StoredCredentials | None:
        with self._lock:
            record = self._records.get((user_id, str(platform)))
        if record is None:
            return None
        account, sealed = record
        secret = self.vault.open(user_id, account_subject(account.platform, account.account_id), sealed)
        return StoredCredentials(account, str(secret["accessToken"]), secret.get("refreshToken"))

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None:
        stored = self.stored(user_id, platform)
        return stored.for_client() if stored else None

    # -- internals -------------------------------------------------------------------------------

    def owners(self, platform: str, account_id: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(
                sorted(
                    uid
                    for (uid, p), (account, _) in self._records.items()
                    if p == platform and account.account_id == account_id
                )
            )

    def _audit(
        self, user_id: str, action: str, account: Account, details: dict[str, Any], actor: str | None = None
    ) -> None:
        self.audit.record(
            user_id, account_audit(self.clock.now(), actor or user_id, action, account, details)
        )
