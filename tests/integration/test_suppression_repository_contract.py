"""The in-memory suppression list keeps the DynamoDB one's contract: one entry per address whatever its
case, the first reason kept, batch lookups, pages in address order with cursors only for their user,
removal, and the per-user limit for entries added by hand (never for an unsubscribe)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.campaigns import Suppression, SuppressionReason
from tidings.store.memory.suppressions import InMemorySuppressionRepository
from tidings.store.suppressions import DynamoSuppressionRepository, SuppressionRepository

NOW = datetime(2026, 9, 1, 8, 30, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def suppressions(table: Table | None) -> SuppressionRepository:
    if table is None:
        return InMemorySuppressionRepository()
    return DynamoSuppressionRepository(table.name, table.client)


def entry(user: str, email: str, reason: str = SuppressionReason.UNSUBSCRIBED, **kw: object) -> Suppression:
    return Suppression(user_id=user, email=email, reason=reason, at=kw.pop("at", NOW), **kw)  # type: ignore[arg-type]


def test_an_address_is_added_once_and_keeps_its_first_reason(suppressions: SuppressionRepository) -> None:
    user = user_id()

    first, created = suppressions.add(entry(user, " Ann@Example.com ", campaign_id="cmp_1"))
    again, created_again = suppressions.add(
        entry(user, "ann@example.com", SuppressionReason.BOUNCED, at=NOW + timedelta(hours=1), detail="550")
    )

    assert created
    assert not created_again
    assert first == Suppression(user, "ann@example.com", SuppressionReason.UNSUBSCRIBED, NOW, "cmp_1", None)
    assert again == first
    assert suppressions.get(user, "ANN@example.COM") == first
    assert suppressions.count(user) == 1


def test_lookups_see_only_the_users_own_list(suppressions: SuppressionRepository) -> None:
    user, other = user_id(), user_id()
    suppressions.add(entry(user, "gone@example.com", SuppressionReason.COMPLAINED))

    assert suppressions.is_suppressed(user, "Gone@Example.com")
    assert not suppressions.is_suppressed(other, "gone@example.com")
    assert not suppressions.is_suppressed(user, "here@example.com")
    assert suppressions.get(other, "gone@example.com") is None


def test_many_addresses_are_checked_at_once_beyond_one_batch(suppressions: SuppressionRepository) -> None:
    user = user_id()
    held = [f"r{i}@example.com" for i in range(0, 240, 7)]
    for address in held:
        suppressions.add(entry(user, address))
    asked = [f"r{i}@example.com" for i in range(240)] + ["R7@EXAMPLE.COM", "r7@example.com"]

    found = suppressions.is_suppressed_many(user, asked)

    assert found == set(held) | {"R7@EXAMPLE.COM"}
    assert suppressions.is_suppressed_many(user, []) == set()
    assert suppressions.is_suppressed_many(user_id(), held) == set()


def test_the_list_pages_in_address_order(suppressions: SuppressionRepository) -> None:
    user = user_id()
    for address in ["c@example.com", "a@example.com", "e@example.com", "b@example.com", "d@example.com"]:
        suppressions.add(entry(user, address))
    suppressions.add(entry(user_id(), "zz@example.com"))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = suppressions.list(user, limit=2, cursor=cursor)
        seen += [s.email for s in page]
        pages += 1
        if cursor is None:
            break

    assert seen == ["a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"]
    assert pages == 3


def test_removal_takes_the_address_off_and_counts_down(suppressions: SuppressionRepository) -> None:
    user = user_id()
    suppressions.add(entry(user, "a@example.com"))
    suppressions.add(entry(user, "b@example.com"))

    removed = suppressions.remove(user, "A@example.com")

    assert removed is not None
    assert removed.email == "a@example.com"
    assert suppressions.remove(user, "a@example.com") is None
    assert not suppressions.is_suppressed(user, "a@example.com")
    assert suppressions.count(user) == 1
    _, created = suppressions.add(entry(user, "a@example.com", SuppressionReason.MANUAL))
    assert created
    assert suppressions.get(user, "a@example.com").reason == SuppressionReason.MANUAL  # type: ignore[union-attr]


def test_the_limit_refuses_only_new_entries_added_with_it(suppressions: SuppressionRepository) -> None:
    user = user_id()
    suppressions.add(entry(user, "a@example.com"), limit=2)
    suppressions.add(entry(user, "b@example.com"), limit=2)

    refused = outcome(lambda: suppressions.add(entry(user, "c@example.com"), limit=2))
    already_there = suppressions.add(entry(user, "a@example.com", SuppressionReason.MANUAL), limit=2)
    unsubscribe, created = suppressions.add(entry(user, "c@example.com"))

    assert refused == "Conflict"
    assert already_there[1] is False
    assert created
    assert unsubscribe.email == "c@example.com"
    assert suppressions.count(user) == 3
