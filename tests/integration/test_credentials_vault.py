"""Credentials at rest: envelope encryption with a real KMS (moto) and the account store on
DynamoDB Local. A token is never stored in the clear, cannot be opened for another user, and is
renewed before it expires."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.provision import LocalStack
from tidings.aws.vault import CredentialVault
from tidings.core.clock import FakeClock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.secrets import CredentialError, SealedSecret
from tidings.models.accounts import CredentialsChanged
from tidings.publishing.tokens import FreshCredentials
from tidings.store import keys
from tidings.store.accounts import AccountRepository, DynamoAccountRepository
from tidings.store.dynamo import deserialize, serialize

CANARY = "canary-TOKEN-7f3a9c2e1b5d4a6f"
REFRESH_CANARY = "canary-REFRESH-0a1b2c3d4e5f"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PAGE = "104857600012345"


@pytest.fixture
def vault(local_stack: LocalStack) -> CredentialVault:
    return CredentialVault(local_stack.credentials_key_arn, local_stack.client("kms"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(local_stack: LocalStack, vault: CredentialVault, clock: FakeClock) -> AccountRepository:
    return DynamoAccountRepository(local_stack.table_name, vault, local_stack.client("dynamodb"), clock)


@pytest.fixture
def user() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


def _raw_item(local_stack: LocalStack, user: str, platform: str) -> dict[str, Any]:
    resp = local_stack.client("dynamodb").get_item(
        TableName=local_stack.table_name,
        Key=serialize({"PK": keys.user_pk(user), "SK": keys.account_sk(platform)}),
    )
    return dict(resp["Item"])


def test_a_sealed_secret_opens_only_for_its_owner_and_subject(vault: CredentialVault) -> None:
    sealed = vault.seal("alice", "account:facebook:1", {"accessToken": CANARY})

    assert CANARY.encode() not in sealed.ciphertext + sealed.wrapped_key
    assert vault.open("alice", "account:facebook:1", sealed) == {"accessToken": CANARY}
    with pytest.raises(CredentialError):
        vault.open("mallory", "account:facebook:1", sealed)
    with pytest.raises(CredentialError):
        vault.open("alice", "account:facebook:2", sealed)


def test_a_tampered_ciphertext_is_refused(vault: CredentialVault) -> None:
    sealed = vault.seal("alice", "s", {"accessToken": CANARY})
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]

    with pytest.raises(CredentialError):
        vault.open("alice", "s", SealedSecret(sealed.key_id, sealed.wrapped_key, sealed.nonce, flipped))


def test_each_secret_gets_its_own_data_key_and_rotation_reseals(vault: CredentialVault) -> None:
    first = vault.seal("alice", "s", {"accessToken": CANARY})
    second = vault.seal("alice", "s", {"accessToken": CANARY})
    rotated = vault.rotate("alice", "s", first)

    assert len({first.wrapped_key, second.wrapped_key, rotated.wrapped_key}) == 3
    assert first.nonce != second.nonce
    assert vault.open("alice", "s", rotated) == {"accessToken": CANARY}


def test_connect_stores_no_token_in_the_clear_and_lists_a_masked_hint(
    store: AccountRepository, local_stack: LocalStack, user: str
) -> None:
    account = store.connect(
        user, "facebook", PAGE, CANARY, refresh_token=REFRESH_CANARY, expires_at=NOW + timedelta(days=60)
    )

    raw = json.dumps(_raw_item(local_stack, user, "facebook"), default=repr)
    assert CANARY not in raw
    assert REFRESH_CANARY not in raw
    assert CANARY[-4:] in account.token_hint
    assert CANARY not in repr(account)
    (listed,) = store.list(user)
    assert (listed.platform, listed.account_id, listed.expires_at) == (
        "facebook",
        PAGE,
        NOW + timedelta(days=60),
    )
    opened = store.stored(user, "facebook")
    assert opened is not None
    assert (opened.access_token, opened.refresh_token) == (CANARY, REFRESH_CANARY)
    assert CANARY not in repr(opened)


def test_a_record_copied_to_another_user_cannot_be_opened(
    store: AccountRepository, local_stack: LocalStack, user: str
) -> None:
    store.connect(user, "facebook", PAGE, CANARY)
    item = deserialize(_raw_item(local_stack, user, "facebook"))
    mallory = f"mallory-{uuid.uuid4().hex[:6]}"
    item.update({"PK": keys.user_pk(mallory), "user_id": mallory})
    local_stack.client("dynamodb").put_item(TableName=local_stack.table_name, Item=serialize(item))

    with pytest.raises(CredentialError):
        store.stored(mallory, "facebook")


def test_connect_checks_the_platform_account_id_and_token(store: AccountRepository, user: str) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        store.connect(user, "myspace", "1", CANARY)
    with pytest.raises(ValidationFailed) as bad_urn:
        store.connect(user, "linkedin", "12345", CANARY)
    with pytest.raises(ValidationFailed) as blank:
        store.connect(user, "facebook", PAGE, "   ")

    assert unknown.value.code == "unknown_platform"
    assert bad_urn.value.code == "invalid_account_id"
    assert blank.value.code == "invalid_token"
    assert "   " not in blank.value.message
    assert store.list(user) == []


def test_disconnect_removes_the_account(store: AccountRepository, user: str) -> None:
    store.connect(user, "twitter", "2244994945", CANARY)
    store.disconnect(user, "twitter")

    assert store.stored(user, "twitter", fresh=True) is None
    with pytest.raises(NotFound):
        store.disconnect(user, "twitter")


def test_two_refreshes_from_the_same_read_store_one_result(store: AccountRepository, user: str) -> None:
    store.connect(user, "twitter", "2244994945", CANARY, refresh_token=REFRESH_CANARY, expires_at=NOW)
    read = store.stored(user, "twitter", fresh=True)
    assert read is not None
    store.store_refreshed(read, "new-token-aaaaaaaaaaaa", "new-refresh", NOW + timedelta(hours=2))

    with pytest.raises(CredentialsChanged):
        store.store_refreshed(read, "other-token-bbbbbbbbbb", "other-refresh", NOW + timedelta(hours=2))
    latest = store.stored(user, "twitter", fresh=True)
    assert latest is not None
    assert latest.access_token == "new-token-aaaaaaaaaaaa"
    assert latest.account.revision == 2


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None


class CountingRefresher:
    def __init__(self, clock: FakeClock, fail: PlatformCallError | None = None) -> None:
        self.clock = clock
        self.fail = fail
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def supports(self, platform: str) -> bool:
        return platform in ("twitter", "linkedin", "youtube", "tiktok")

    def refresh(self, platform: str, refresh_token: str) -> Grant:
        with self.lock:
            self.calls.append((platform, refresh_token))
        if self.fail is not None:
            raise self.fail
        return Grant(
            f"renewed-{len(self.calls)}-token",
            f"rotated-{len(self.calls)}",
            self.clock.now() + timedelta(hours=2),
        )


def test_a_token_about_to_expire_is_renewed_once_before_use(
    store: AccountRepository, clock: FakeClock, user: str
) -> None:
    store.connect(
        user,
        "twitter",
        "2244994945",
        CANARY,
        refresh_token=REFRESH_CANARY,
        expires_at=NOW + timedelta(minutes=5),
    )
    refresher = CountingRefresher(clock)
    source = FreshCredentials(store, refresher, clock, margin_seconds=600)

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(source.credentials(user, "twitter").access_token))  # type: ignore[union-attr]
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert refresher.calls == [("twitter", REFRESH_CANARY)]
    assert results == ["renewed-1-token"] * 4
    stored = store.stored(user, "twitter", fresh=True)
    assert stored is not None
    assert stored.refresh_token == "rotated-1"
    assert stored.account.expires_at == NOW + timedelta(hours=2)
    renewals = [e for e in store.audit.page(user, 10, None)[0] if e.action == "account.token_renewed"]
    assert [e.actor for e in renewals] == ["tidings"]


def test_an_expired_token_that_cannot_be_renewed_stops_with_auth_expired(
    store: AccountRepository, clock: FakeClock, user: str
) -> None:
    store.connect(user, "facebook", PAGE, CANARY, expires_at=NOW - timedelta(minutes=1))
    source = FreshCredentials(store, CountingRefresher(clock), clock, margin_seconds=600)

    with pytest.raises(PlatformCallError) as caught:
        source.credentials(user, "facebook")
    assert caught.value.kind == ErrorKind.AUTH_EXPIRED
    assert caught.value.code == "token_expired"
    assert CANARY not in caught.value.message


def test_a_failed_renewal_keeps_a_token_that_still_works_and_stops_one_that_does_not(
    store: AccountRepository, clock: FakeClock, user: str
) -> None:
    failure = PlatformCallError(ErrorKind.AUTH_EXPIRED, "refresh_failed", "reconnect the account")
    store.connect(
        user,
        "linkedin",
        "urn:li:person:abc123",
        CANARY,
        refresh_token=REFRESH_CANARY,
        expires_at=NOW + timedelta(minutes=5),
    )
    source = FreshCredentials(store, CountingRefresher(clock, fail=failure), clock, margin_seconds=600)

    creds = source.credentials(user, "linkedin")
    assert creds is not None
    assert creds.access_token == CANARY
    clock.advance(timedelta(minutes=6))
    with pytest.raises(PlatformCallError) as caught:
        source.credentials(user, "linkedin")
    assert caught.value.code == "refresh_failed"


def test_rotation_reseals_under_a_new_data_key_and_the_trail_records_every_change(
    store: AccountRepository, local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    store.connect(user, "linkedin", "urn:li:person:abc123", CANARY, refresh_token=REFRESH_CANARY)
    before = deserialize(_raw_item(local_stack, user, "linkedin"))["cred_wrapped_key"]
    clock.advance(timedelta(seconds=1))
    store.rotate(user, "linkedin")
    after = deserialize(_raw_item(local_stack, user, "linkedin"))["cred_wrapped_key"]
    opened = store.stored(user, "linkedin", fresh=True)
    clock.advance(timedelta(seconds=1))
    store.disconnect(user, "linkedin")

    assert bytes(getattr(before, "value", before)) != bytes(getattr(after, "value", after))
    assert opened is not None
    assert (opened.access_token, opened.refresh_token) == (CANARY, REFRESH_CANARY)
    entries, _ = store.audit.page(user, 10, None)
    assert [e.action for e in entries] == [
        "account.disconnected",
        "account.credentials_rotated",
        "account.connected",
    ]
    assert {e.actor for e in entries} == {user}
    assert all(e.target == "account:linkedin" for e in entries)
    assert CANARY not in repr(entries)
    assert REFRESH_CANARY not in repr(entries)
    with pytest.raises(NotFound):
        store.rotate(user, "linkedin")
