"""The in-memory A/B test repository keeps the DynamoDB one's contract: a test comes back as stored;
the user's running tests are limited by one conditional count, given back when a test ends; a change
is refused unless made at the version read and while the test is collecting; the monitor's index
holds running tests only; pages run newest first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.abtests import (
    ABTest,
    ABTestStatus,
    Evaluation,
    Metric,
    Variant,
    VariantPost,
    VariantResult,
)
from tidings.store.abtests import ABTestRepository, DynamoABTestRepository
from tidings.store.memory.abtests import InMemoryABTestRepository

NOW = datetime(2026, 7, 1, 12, 0, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def tests_repo(table: Table | None) -> ABTestRepository:
    if table is None:
        return InMemoryABTestRepository()
    return DynamoABTestRepository(table.name, table.client)


def a_test(user: str, n: int = 0) -> ABTest:
    at = NOW + timedelta(minutes=n)
    return ABTest(
        user_id=user,
        test_id=f"abt_{int(at.timestamp() * 1000):013d}_0000000{n}",
        name=f"wording {n}",
        metric=Metric.CLICKS,
        min_sample_size=1500,
        platforms=("facebook", "linkedin"),
        start=NOW + timedelta(days=1),
        spacing_minutes=30,
        seed=7,
        variants=(
            Variant(
                "A",
                "first",
                ("https://example.com/a.jpg",),
                ("openhouse",),
                (
                    VariantPost("facebook", "p1", 0, NOW + timedelta(days=1)),
                    VariantPost("linkedin", "p2", 1, NOW + timedelta(days=1, minutes=30)),
                ),
            ),
            Variant(
                "B",
                "second",
                (),
                (),
                (
                    VariantPost("facebook", "p3", 1, NOW + timedelta(days=1, minutes=30)),
                    VariantPost("linkedin", "p4", 0, NOW + timedelta(days=1)),
                ),
            ),
        ),
        created_at=at,
        updated_at=at,
    )


def evaluation() -> Evaluation:
    return Evaluation(
        at=NOW,
        reading_age_seconds=86400.5,
        platforms=("facebook",),
        results=(
            VariantResult("A", 2000, 40, 1, 0.0204, (0.0147, 0.0271), 0.012),
            VariantResult("B", 2100, 80, 1, 0.0385, (0.0307, 0.0472), 0.988),
        ),
        sample_reached=True,
    )


def test_a_test_comes_back_as_stored(tests_repo: ABTestRepository) -> None:
    user = user_id()
    created = tests_repo.create(a_test(user), limit=5)

    assert tests_repo.get(user, created.test_id) == created
    assert tests_repo.get("someone-else", created.test_id) is None
    saved = tests_repo.save(replace(created, evaluation=evaluation()))
    assert saved.version == 2
    assert tests_repo.get(user, created.test_id) == saved


def test_running_tests_are_limited_and_an_ended_test_gives_its_place_back(
    tests_repo: ABTestRepository,
) -> None:
    user = user_id()
    first = tests_repo.create(a_test(user, 0), limit=2)
    tests_repo.create(a_test(user, 1), limit=2)

    assert outcome(lambda: tests_repo.create(a_test(user, 2), limit=2)) == "Conflict"
    assert tests_repo.running_count(user) == 2
    assert tests_repo.running_count(user_id()) == 0

    ended = tests_repo.save(replace(first, status=ABTestStatus.COMPLETED, winner="B", completed_at=NOW))

    assert ended.status == ABTestStatus.COMPLETED
    assert tests_repo.running_count(user) == 1
    assert outcome(lambda: tests_repo.create(a_test(user, 2), limit=2)) == "ok"


def test_changes_need_the_version_read_and_a_collecting_test(tests_repo: ABTestRepository) -> None:
    user = user_id()
    created = tests_repo.create(a_test(user), limit=5)
    tests_repo.save(created)

    assert outcome(lambda: tests_repo.save(created)) == "Conflict"  # stale
    current = tests_repo.get(user, created.test_id)
    assert current is not None
    stopped = tests_repo.save(replace(current, status=ABTestStatus.STOPPED))
    assert outcome(lambda: tests_repo.save(stopped)) == "Conflict"  # ended: no more changes
    assert tests_repo.running_count(user) == 0


def test_the_monitor_sees_running_tests_only(tests_repo: ABTestRepository) -> None:
    user = user_id()
    running = tests_repo.create(a_test(user, 0), limit=5)
    ended = tests_repo.create(a_test(user, 1), limit=5)
    tests_repo.save(replace(ended, status=ABTestStatus.INCONCLUSIVE))

    mine = [t.test_id for t in tests_repo.running() if t.user_id == user]

    assert mine == [running.test_id]


def test_pages_run_newest_first(tests_repo: ABTestRepository) -> None:
    user = user_id()
    made = [tests_repo.create(a_test(user, n), limit=5) for n in range(3)]

    first, token = tests_repo.page(user, 2, None)
    rest, end = tests_repo.page(user, 2, token)

    assert [t.test_id for t in first + rest] == [t.test_id for t in reversed(made)]
    assert end is None
    assert outcome(lambda: tests_repo.page(user, 2, "not-a-token")) == "ValueError"
