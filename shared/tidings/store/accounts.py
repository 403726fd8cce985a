"""Connected platform accounts: who publishes where, with which (sealed) credentials.

Item `USER#<id> / ACCOUNT#<platform>` (one account per platform per user: a post names platforms,
and each platform publishes through the user's one account there) holds the account id, the token's
expiry, a masked hint, and the access and refresh tokens sealed by the credential vault
(tidings.aws.vault: a KMS data key per secret, AES-256-GCM, bound to the user and the
account). Tokens never enter logs, errors, API responses or the table in plaintext.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock, iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.core.platforms import ACCOUNT_PLATFORMS
from tidings.core.secrets import SealedSecret, SecretVault
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
    token_secret,
)
from tidings.store import keys
from tidings.store.audit import AuditEntry, DynamoAuditRepository
from tidings.store.dynamo import deserialize, dynamodb_client, serialize, serialize_value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AccountRepository(Protocol):
    """Connected accounts, their sealed tokens, and the audit of every change to them."""

    def connect(
        self,
        user_id: str,
        platform: str,
        account_id: str,
        access_token: str,
        *,
        refresh_token: str | None = None,
        expires_at: datetime | None = None,
    ) -> Account: ...

    def store_refreshed(
        self,
        current: StoredCredentials,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
    ) -> StoredCredentials: ...

    def disconnect(self, user_id: str, platform: str) -> Account: ...

    def rotate(self, user_id: str, platform: str) -> Account: ...

    def get(self, user_id: str, platform: str) -> Account | None: ...

    def require(self, user_id: str, platform: str) -> Account: ...

    def list(self, user_id: str) -> list[Account]: ...

    def stored(self, user_id: str, platform: str, *, fresh: bool = False) -> StoredCredentials | None: ...

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None: ...

    def owners(self, platform: str, account_id: str) -> tuple[str, ...]:
        """The users who connected this platform account (a platform's webhook names only it)."""
        ...


class DynamoAccountRepository:
    """Reads and writes connected accounts. Opened credentials are cached briefly in memory (a warm
    function publishing many posts must not call KMS for each)."""

    CACHE_SECONDS = 60.0

    def __init__(
        self,
        table_name: str,
        vault: SecretVault,
        dynamodb: DynamoDBClient | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.table = table_name
        self.vault = vault
        self.dynamodb = dynamodb or dynamodb_client()
        self.clock = clock
        self.audit = DynamoAuditRepository(table_name, self.dynamodb)
        self._cache: dict[tuple[str, str], tuple[float, StoredCredentials | None]] = {}
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
        """Connect (or reconnect, replacing) the user's account on `platform`."""
        account = new_account(
            user_id, platform, account_id, access_token, refresh_token, expires_at, self.clock.now()
        )
        sealed = seal_tokens(self.vault, account, access_token, refresh_token)
        self.dynamodb.put_item(TableName=self.table, Item=serialize(_to_item(account) | sealed.to_item()))
        self._forget(user_id, platform)
        self._audit(user_id, user_id, "account.connected", account, {"tokenHint": account.token_hint})
        return account

    def store_refreshed(
        self,
        current: StoredCredentials,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
    ) -> StoredCredentials:
        """Replace the tokens after a refresh, if nobody else did since `current` was read."""
        acc = current.account
        updated = renewed_account(acc, access_token, refresh_token, expires_at, self.clock.now())
        sealed = seal_tokens(self.vault, updated, access_token, refresh_token)
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=serialize(_to_item(updated) | sealed.to_item()),
                ConditionExpression="revision = :rev AND account_id = :acc",
                ExpressionAttributeValues={
                    ":rev": serialize_value(acc.revision),
                    ":acc": serialize_value(acc.account_id),
                },
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException as exc:
            self._forget(acc.user_id, acc.platform)
            raise CredentialsChanged() from exc
        self._audit(
            acc.user_id, "tidings", "account.token_renewed", updated, {"tokenHint": updated.token_hint}
        )
        fresh = StoredCredentials(updated, access_token, refresh_token)
        with self._lock:
            self._cache[(acc.user_id, acc.platform)] = (time.monotonic(), fresh)
        return fresh

    def disconnect(self, user_id: str, platform: str) -> Account:
        check_platform(platform)
        resp = self.dynamodb.delete_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.account_sk(platform)}),
            ReturnValues="ALL_OLD",
        )
        self._forget(user_id, platform)
        if "Attributes" not in resp:
            raise not_connected(platform)
        account = _from_item(deserialize(resp["Attributes"]))
        self._audit(user_id, user_id, "account.disconnected", account, {})
        return account

    def rotate(self, user_id: str, platform: str) -> Account:
        """Re-seal the account's tokens under a new data key (and the vault's current KMS key)."""
        check_platform(platform)
        item = self._item(user_id, platform)
        if item is None:
            raise not_connected(platform)
        account = _from_item(item)
        subject = account_subject(account.platform, account.account_id)
        resealed = self.vault.rotate(user_id, subject, SealedSecret.from_item(item))
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=serialize({**item, **resealed.to_item()}),
                ConditionExpression="revision = :rev",
                ExpressionAttributeValues={":rev": serialize_value(account.revision)},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException as exc:
            raise Conflict(
                "the account changed meanwhile; try again", {"platform": platform}, code="account_busy"
            ) from exc
        self._forget(user_id, platform)
        self._audit(user_id, user_id, "account.credentials_rotated", account, {})
        return account

    def _audit(
        self, user_id: str, actor: str, action: str, account: Account, details: dict[str, Any]
    ) -> None:
        self.audit.record(user_id, account_audit(self.clock.now(), actor, action, account, details))

    # -- reads -----------------------------------------------------------------------------------

    def get(self, user_id: str, platform: str) -> Account | None:
        item = self._item(user_id, platform)
        return _from_item(item) if item else None

    def require(self, user_id: str, platform: str) -> Account:
        check_platform(platform)
        account = self.get(user_id, platform)
        if account is None:
            raise not_connected(platform)
        return account

    def list(self, user_id: str) -> list[Account]:
        resp = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=serialize(
                {":pk": keys.user_pk(user_id), ":prefix": keys.account_sk("")}
            ),
            ConsistentRead=True,
        )
        items = [deserialize(raw) for raw in resp.get("Items", [])]
        for item in items:
            self._index_owner(item)
        accounts = [_from_item(item) for item in items]
        return sorted(accounts, key=lambda a: ACCOUNT_PLATFORMS.index(a.platform))

    def stored(self, user_id: str, platform: str, *, fresh: bool = False) -> StoredCredentials | None:
        """The account with its opened tokens, or None when the user has not connected `platform`."""
        key = (user_id, str(platform))
        now = time.monotonic()
        if not fresh:
            with self._lock:
                cached = self._cache.get(key)
                if cached and now - cached[0] < self.CACHE_SECONDS:
                    return cached[1]
        item = self._item(user_id, str(platform))
        creds = None
        if item is not None:
            account = _from_item(item)
            secret = self.vault.open(
                user_id, account_subject(account.platform, account.account_id), SealedSecret.from_item(item)
            )
            creds = StoredCredentials(account, str(secret["accessToken"]), secret.get("refreshToken"))
        with self._lock:
            self._cache[key] = (now, creds)
        return creds

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None:
        stored = self.stored(user_id, platform)
        return stored.for_client() if stored else None

    def owners(self, platform: str, account_id: str) -> tuple[str, ...]:
        resp = self.dynamodb.query(
            TableName=self.table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=serialize({":pk": keys.account_owner_pk(platform, account_id)}),
        )
        return tuple(sorted({str(deserialize(raw)["GSI1SK"]) for raw in resp.get("Items", [])}))

    # -- internals -------------------------------------------------------------------------------

    def _item(self, user_id: str, platform: str) -> dict[str, Any] | None:
        resp = self.dynamodb.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.account_sk(platform)}),
            ConsistentRead=True,
        )
        if "Item" not in resp:
            return None
        item = deserialize(resp["Item"])
        self._index_owner(item)
        return item

    def _index_owner(self, item: dict[str, Any]) -> None:
        """Put an account connected before the owner index existed into it, the first time it is read
        (listed, or its tokens opened to publish, read metrics or comments), so its platform's
        webhooks find its user from then on. Conditional: a reconnect meanwhile wrote its own."""
        if "GSI1PK" in item or not item.get("account_id"):
            return
        owner = {
            "GSI1PK": keys.account_owner_pk(str(item["platform"]), str(item["account_id"])),
            "GSI1SK": str(item["user_id"]),
        }
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=serialize({"PK": item["PK"], "SK": item["SK"]}),
                UpdateExpression="SET GSI1PK = :pk, GSI1SK = :sk",
                ConditionExpression=(
                    "attribute_exists(PK) AND attribute_not_exists(GSI1PK) AND account_id = :a"
                ),
                ExpressionAttributeValues=serialize(
                    {":pk": owner["GSI1PK"], ":sk": owner["GSI1SK"], ":a": item["account_id"]}
                ),
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return
        item.update(owner)

    def _forget(self, user_id: str, platform: str) -> None:
        with self._lock:
            self._cache.pop((user_id, platform), None)


def seal_tokens(
    vault: SecretVault, account: Account, access_token: str, refresh_token: str | None
) -> SealedSecret:
    """The account's tokens sealed for its user and platform account."""
    subject = account_subject(account.platform, account.account_id)
    return vault.seal(account.user_id, subject, token_secret(access_token, refresh_token))


def account_audit(
    now: datetime, actor: str, action: str, account: Account, details: dict[str, Any]
) -> AuditEntry:
    """The audit entry of a change to a connected account (never a token: a masked hint at most)."""
    return AuditEntry(
        at=now,
        actor=actor,
        action=action,
        target=f"account:{account.platform}",
        details={"accountId": account.account_id, **details},
    )


def _to_item(account: Account) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(account.user_id),
        "SK": keys.account_sk(account.platform),
        "EntityType": keys.ACCOUNT_ENTITY,
        # who connected this platform account, found from the account alone (Meta webhooks)
        "GSI1PK": keys.account_owner_pk(account.platform, account.account_id),
        "GSI1SK": account.user_id,
        "user_id": account.user_id,
        "platform": account.platform,
        "account_id": account.account_id,
        "connected_at": iso_ms(account.connected_at),
        "expires_at": iso_ms(account.expires_at) if account.expires_at else None,
        "has_refresh_token": account.has_refresh_token,
        "token_hint": account.token_hint,
        "refreshed_at": iso_ms(account.refreshed_at) if account.refreshed_at else None,
        "revision": account.revision,
    }


def _from_item(item: dict[str, Any]) -> Account:
    return Account(
        user_id=item["user_id"],
        platform=item["platform"],
        account_id=item["account_id"],
        connected_at=parse_iso(item["connected_at"]),
        expires_at=parse_iso(item["expires_at"]) if item.get("expires_at") else None,
        has_refresh_token=bool(item.get("has_refresh_token", False)),
        token_hint=str(item.get("token_hint", "••••")),
        refreshed_at=parse_iso(item["refreshed_at"]) if item.get("refreshed_at") else None,
        revision=int(item.get("revision", 1)),
    )
