"""The in-memory rate-limit budgets keep the DynamoDB ones' contract: a reservation takes from every
window or from none, a full window refuses until the latest full window ends, and a block holds every
send until it ends and is only ever extended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, user_id

from tidings.store.budgets import BudgetRepository, DynamoBudgetRepository, Limit, Reservation
from tidings.store.memory.budgets import InMemoryBudgetRepository

NOW = datetime(2026, 7, 1, 12, 1, 0, tzinfo=UTC)
PER_USER = Limit(2, 900)
PER_APP = Limit(3, 3 * 3600, per_app=True)
LIMITS = {"twitter": (PER_USER, PER_APP), "facebook": ()}


table = contract_table


@pytest.fixture
def budgets(table: Table | None) -> BudgetRepository:
    if table is None:
        return InMemoryBudgetRepository(LIMITS)
    return DynamoBudgetRepository(table.name, table.client, LIMITS)


def test_a_reservation_takes_from_every_window_or_from_none(budgets: BudgetRepository) -> None:
    user = user_id()
    assert budgets.reserve(user, "twitter", NOW) == Reservation(True)
    assert budgets.reserve(user, "twitter", NOW) == Reservation(True)

    refused = budgets.reserve(user, "twitter", NOW)

    assert refused == Reservation(
        False, PER_USER.window_end(NOW), "the account's twitter budget of 2 per 15 minutes is used up"
    )
    assert budgets.usage(user, "twitter", NOW) == [(PER_USER, 2), (PER_APP, 2)]  # the app's window untouched


def test_the_apps_window_is_shared_by_every_user(budgets: BudgetRepository) -> None:
    first, second, third = user_id(), user_id(), user_id()
    budgets.reserve(first, "twitter", NOW)
    budgets.reserve(first, "twitter", NOW)
    assert budgets.reserve(second, "twitter", NOW).granted

    refused = budgets.reserve(third, "twitter", NOW)

    assert refused == Reservation(
        False, PER_APP.window_end(NOW), "the app's twitter budget of 3 per 3 hours is used up"
    )
    assert budgets.usage(third, "twitter", NOW) == [(PER_USER, 0), (PER_APP, 3)]


def test_with_several_windows_full_it_waits_for_the_last_to_end(budgets: BudgetRepository) -> None:
    user = user_id()
    budgets.reserve(user, "twitter", NOW)
    budgets.reserve(user, "twitter", NOW)
    budgets.reserve(user_id(), "twitter", NOW)

    refused = budgets.reserve(user, "twitter", NOW)

    assert refused.granted is False
    assert refused.available_at == PER_APP.window_end(NOW)


def test_a_new_window_has_room_again(budgets: BudgetRepository) -> None:
    user = user_id()
    budgets.reserve(user, "twitter", NOW)
    budgets.reserve(user, "twitter", NOW)
    later = PER_USER.window_end(NOW) + timedelta(seconds=1)
    assert budgets.reserve(user, "twitter", later).granted
    assert budgets.usage(user, "twitter", later) == [(PER_USER, 1), (PER_APP, 3)]


def test_a_platform_without_limits_always_has_room(budgets: BudgetRepository) -> None:
    user = user_id()
    assert all(budgets.reserve(user, "facebook", NOW).granted for _ in range(5))
    assert budgets.usage(user, "facebook", NOW) == []


def test_a_block_holds_every_send_until_it_ends_and_is_only_extended(budgets: BudgetRepository) -> None:
    user = user_id()
    assert budgets.blocked_until(user, "twitter", NOW) is None
    until = NOW + timedelta(minutes=20)
    budgets.block(user, "twitter", until, "twitter answered 429", NOW)

    assert budgets.reserve(user, "twitter", NOW) == Reservation(False, until, "twitter answered 429")
    assert budgets.usage(user, "twitter", NOW) == [(PER_USER, 0), (PER_APP, 0)]
    budgets.block(user, "twitter", NOW + timedelta(minutes=5), "shorter", NOW)
    assert budgets.blocked_until(user, "twitter", NOW) == (until, "twitter answered 429")
    longer = NOW + timedelta(hours=1)
    budgets.block(user, "twitter", longer, "x" * 600, NOW)
    assert budgets.blocked_until(user, "twitter", NOW) == (longer, "x" * 500)

    assert budgets.blocked_until(user_id(), "twitter", NOW) is None
    assert budgets.blocked_until(user, "linkedin", NOW) is None
    after = longer + timedelta(milliseconds=1)
    assert budgets.blocked_until(user, "twitter", after) is None
    assert budgets.reserve(user, "twitter", after).granted


def test_any_budget_key_with_its_own_limits_and_label(budgets: BudgetRepository) -> None:
    user = user_id()
    own = (Limit(1, 60),)
    assert budgets.reserve_limits(user, "int-1:api", own, NOW, label="hubspot").granted

    refused = budgets.reserve_limits(user, "int-1:api", own, NOW, label="hubspot")

    assert refused.reason == "the account's hubspot budget of 1 per minute is used up"
    assert budgets.usage_of(user, "int-1:api", own, NOW) == [(own[0], 1)]
    assert budgets.usage_of(user, "int-2:api", own, NOW) == [(own[0], 0)]
    assert budgets.reserve_limits(user, "int-1:api", (), NOW).granted
