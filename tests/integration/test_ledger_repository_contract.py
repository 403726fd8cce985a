"""The in-memory publish ledger keeps the DynamoDB one's contract: an entry is begun once per attempt,
settled only by the attempt that holds it, and reads back the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.store.ledger import DynamoLedgerRepository, LedgerEntry, LedgerRepository, LedgerState
from tidings.store.memory.ledger import InMemoryLedgerRepository

NOW = datetime(2026, 7, 1, 12, 0, 0, 250_000, tzinfo=UTC)


table = contract_table


@pytest.fixture
def ledger(table: Table | None) -> LedgerRepository:
    if table is None:
        return InMemoryLedgerRepository()
    return DynamoLedgerRepository(table.name, table.client)


@pytest.fixture
def user() -> str:
    return user_id()


def test_an_entry_is_begun_once(ledger: LedgerRepository, user: str) -> None:
    assert ledger.get(user, "post-1", "facebook") is None
    ledger.begin(user, "post-1", "facebook", 1, NOW, previous=None)

    assert (
        outcome(lambda: ledger.begin(user, "post-1", "facebook", 1, NOW, previous=None)) == "LedgerConflict"
    )
    assert ledger.get(user, "post-1", "facebook") == LedgerEntry(LedgerState.IN_FLIGHT, 1, NOW)
    # other platforms, posts and users have entries of their own
    ledger.begin(user, "post-1", "twitter", 1, NOW, previous=None)
    ledger.begin(user, "post-2", "facebook", 1, NOW, previous=None)
    ledger.begin(user_id(), "post-1", "facebook", 1, NOW, previous=None)


def test_only_the_attempt_that_holds_the_entry_settles_it_and_only_once_it_is_final(
    ledger: LedgerRepository, user: str
) -> None:
    ledger.begin(user, "post-1", "linkedin", 1, NOW, previous=None)

    assert (
        outcome(lambda: ledger.settle(user, "post-1", "linkedin", 2, LedgerState.PUBLISHED))
        == "LedgerConflict"
    )
    ledger.settle(user, "post-1", "linkedin", 1, LedgerState.UNKNOWN, error="timed out")
    ledger.settle(
        user,
        "post-1",
        "linkedin",
        1,
        LedgerState.PUBLISHED,
        platform_post_id="urn:li:share:7",
        url="https://li/7",
    )

    assert ledger.get(user, "post-1", "linkedin") == LedgerEntry(
        LedgerState.PUBLISHED, 1, NOW, platform_post_id="urn:li:share:7", url="https://li/7"
    )
    assert (
        outcome(lambda: ledger.settle(user, "post-1", "linkedin", 1, LedgerState.FAILED)) == "LedgerConflict"
    )
    assert (
        outcome(lambda: ledger.settle(user, "post-9", "linkedin", 1, LedgerState.FAILED)) == "LedgerConflict"
    )


def test_a_retry_begins_only_from_the_retry_it_read(ledger: LedgerRepository, user: str) -> None:
    ledger.begin(user, "post-1", "tiktok", 1, NOW, previous=None)
    ledger.settle(user, "post-1", "tiktok", 1, LedgerState.RETRY, error="server error")
    read = ledger.get(user, "post-1", "tiktok")
    assert read == LedgerEntry(LedgerState.RETRY, 1, NOW)
    later = NOW + timedelta(minutes=5)

    stale = LedgerEntry(LedgerState.RETRY, 0, NOW)
    assert (
        outcome(lambda: ledger.begin(user, "post-1", "tiktok", 2, later, previous=stale)) == "LedgerConflict"
    )
    ledger.begin(user, "post-1", "tiktok", 2, later, previous=read)
    assert (
        outcome(lambda: ledger.begin(user, "post-1", "tiktok", 2, later, previous=read)) == "LedgerConflict"
    )
    assert ledger.get(user, "post-1", "tiktok") == LedgerEntry(LedgerState.IN_FLIGHT, 2, later)

    ledger.settle(user, "post-1", "tiktok", 2, LedgerState.FAILED, error="refused")
    failed = ledger.get(user, "post-1", "tiktok")
    assert (
        outcome(lambda: ledger.begin(user, "post-1", "tiktok", 3, later, previous=failed)) == "LedgerConflict"
    )
