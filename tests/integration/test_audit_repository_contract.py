"""The in-memory audit trail keeps the DynamoDB one's contract: a user's entries newest first, a page
at a time, with the same page tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.store.audit import AuditEntry, AuditRepository, DynamoAuditRepository
from tidings.store.memory.audit import InMemoryAuditRepository

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


table = contract_table


@pytest.fixture
def audit(table: Table | None) -> AuditRepository:
    if table is None:
        return InMemoryAuditRepository()
    return DynamoAuditRepository(table.name, table.client)


def entry(minutes: int, action: str = "account.connected") -> AuditEntry:
    at = NOW + timedelta(minutes=minutes, milliseconds=7)
    details = {"accountId": "urn:li:person:1", "n": float(minutes), "hint": None, "events": ["a", "b"]}
    return AuditEntry(at, "agent", action, "account:linkedin", details)


def test_entries_come_back_newest_first_a_page_at_a_time(audit: AuditRepository) -> None:
    user = user_id()
    entries = [entry(i) for i in range(4)]
    for e in entries:
        audit.record(user, e)
    audit.record(user_id(), entry(9))

    first, token = audit.page(user, 3, None)
    assert first == entries[::-1][:3]
    assert first[0].details == {"accountId": "urn:li:person:1", "n": 3, "hint": None, "events": ["a", "b"]}
    assert token is not None
    rest, token = audit.page(user, 3, token)
    assert rest == [entries[0]]
    assert token is None


def test_a_page_that_ends_at_its_limit_still_gives_a_token(audit: AuditRepository) -> None:
    user = user_id()
    for i in range(2):
        audit.record(user, entry(i))
    page, token = audit.page(user, 2, None)
    assert len(page) == 2
    assert token is not None
    assert audit.page(user, 2, token) == ([], None)
    assert audit.page(user_id(), 5, None) == ([], None)
    assert outcome(lambda: audit.page(user, 2, "%%%")) == "ValueError"
