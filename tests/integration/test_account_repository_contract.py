"""The in-memory account repository keeps the DynamoDB one's contract: the same checks on what is
connected, tokens that open only as sealed, a renewal refused when another writer renewed first, the
same errors for an account that is not connected, and the same audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.clock import FakeClock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.models.accounts import AccountCredentials, CredentialsChanged
from tidings.store.accounts import AccountRepository, DynamoAccountRepository
from tidings.store.audit import AuditRepository, DynamoAuditRepository
from tidings.store.memory.accounts import InMemoryAccountRepository, InMemorySecretVault
from tidings.store.memory.audit import InMemoryAuditRepository

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
TOKEN = "EAAG-access-token-0001"
PERSON = "urn:li:person:8675309"


table = contract_table


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def audit(table: Table | None) -> AuditRepository:
    return InMemoryAuditRepository() if table is None else DynamoAuditRepository(table.name, table.client)


@pytest.fixture
def accounts(table: Table | None, audit: AuditRepository, clock: FakeClock) -> AccountRepository:
    if table is None:
        return InMemoryAccountRepository(InMemorySecretVault(), audit, clock)
    return DynamoAccountRepository(table.name, InMemorySecretVault(), table.client, clock)


def test_what_is_connected_is_checked_first(accounts: AccountRepository) -> None:
    user = user_id()
    cases = {
        "unknown_platform": lambda: accounts.connect(user, "myspace", "1", TOKEN),
        "invalid_account_id": lambda: accounts.connect(user, "linkedin", "8675309", TOKEN),
        "invalid_token": lambda: accounts.connect(user, "linkedin", PERSON, "two words"),
    }
    for code, call in cases.items():
        with pytest.raises(ValidationFailed) as refused:
            call()
        assert refused.value.code == code
    assert outcome(lambda: accounts.connect(user, "linkedin", PERSON, TOKEN, refresh_token=" ")) == (
        "ValidationFailed"
    )
    assert accounts.list(user) == []


def test_a_connected_account_is_read_without_its_tokens_and_opened_with_them(
    accounts: AccountRepository,
) -> None:
    user = user_id()
    expires = NOW + timedelta(days=60)
    account = accounts.connect(
        user, "linkedin", PERSON, TOKEN, refresh_token="refresh-0001-abcd", expires_at=expires
    )
    accounts.connect(user, "facebook", "1234567890", "EAAG-facebook-token-01")

    assert (account.connected_at, account.expires_at, account.revision) == (NOW, expires, 1)
    assert account.has_refresh_token is True
    assert account.token_hint == "••••0001"
    assert accounts.get(user, "linkedin") == account
    assert accounts.require(user, "linkedin") == account
    assert [a.platform for a in accounts.list(user)] == ["facebook", "linkedin"]
    stored = accounts.stored(user, "linkedin")
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == (TOKEN, "refresh-0001-abcd")
    assert accounts.credentials(user, "linkedin") == AccountCredentials("linkedin", PERSON, TOKEN)
    assert accounts.stored(user_id(), "linkedin") is None
    assert accounts.get(user, "tiktok") is None


def test_a_renewal_is_kept_only_when_nobody_renewed_first(
    accounts: AccountRepository, clock: FakeClock
) -> None:
    user = user_id()
    accounts.connect(user, "linkedin", PERSON, TOKEN, refresh_token="refresh-0001-abcd")
    read = accounts.stored(user, "linkedin", fresh=True)
    assert read is not None
    clock.advance(timedelta(minutes=1))

    renewed = accounts.store_refreshed(
        read, "EAAG-access-token-0002", "refresh-0002-abcd", NOW + timedelta(days=1)
    )

    assert renewed.account.revision == 2
    assert renewed.account.refreshed_at == NOW + timedelta(minutes=1)
    assert renewed.account.connected_at == NOW
    again = accounts.stored(user, "linkedin", fresh=True)
    assert again is not None
    assert (again.access_token, again.refresh_token) == ("EAAG-access-token-0002", "refresh-0002-abcd")
    assert outcome(lambda: accounts.store_refreshed(read, "EAAG-access-token-0003", None, None)) == (
        "CredentialsChanged"
    )
    accounts.disconnect(user, "linkedin")
    with pytest.raises(CredentialsChanged):
        accounts.store_refreshed(again, "EAAG-access-token-0004", None, None)


def test_an_account_that_is_not_connected_is_not_found(accounts: AccountRepository) -> None:
    user = user_id()
    for call in (
        lambda: accounts.require(user, "tiktok"),
        lambda: accounts.disconnect(user, "tiktok"),
        lambda: accounts.rotate(user, "tiktok"),
    ):
        with pytest.raises(NotFound) as missing:
            call()
        assert missing.value.code == "account_not_found"
    assert outcome(lambda: accounts.require(user, "myspace")) == "ValidationFailed"


def test_rotation_keeps_the_tokens_and_the_audit_records_every_change(
    accounts: AccountRepository, audit: AuditRepository, clock: FakeClock
) -> None:
    user = user_id()
    accounts.connect(user, "linkedin", PERSON, TOKEN, refresh_token="refresh-0001-abcd")
    read = accounts.stored(user, "linkedin")
    assert read is not None
    for change in (
        lambda: accounts.store_refreshed(read, "EAAG-access-token-0002", None, None),
        lambda: accounts.rotate(user, "linkedin"),
        lambda: accounts.disconnect(user, "linkedin"),
    ):
        clock.advance(timedelta(seconds=1))
        change()

    assert accounts.get(user, "linkedin") is None
    trail, _ = audit.page(user, 10, None)
    assert [(e.action, e.actor) for e in trail] == [
        ("account.disconnected", user),
        ("account.credentials_rotated", user),
        ("account.token_renewed", "tidings"),
        ("account.connected", user),
    ]
    assert trail[2].details == {"accountId": PERSON, "tokenHint": "••••0002"}
    assert all(TOKEN not in str(e.details) for e in trail)


def test_rotated_tokens_still_open(accounts: AccountRepository) -> None:
    user = user_id()
    accounts.connect(user, "facebook", "1234567890", "EAAG-facebook-token-01")
    accounts.rotate(user, "facebook")
    assert accounts.credentials(user, "facebook") == AccountCredentials(
        "facebook", "1234567890", "EAAG-facebook-token-01"
    )
