"""A user's post analytics a page at a time (`page_for_user`), the same on the in-memory repository as
on DynamoDB Local: the records a filter keeps in key order, of one platform or all, pages that stop at
their limit or at the repository's read cap with the token to go on, and the end of the list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from repository_contract import Table, contract_table, user_id
from test_post_analytics_repository_contract import NOW, record

from tidings.core.platforms import Platform
from tidings.models.post_analytics import PostAnalytics, PostMetrics
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.post_analytics import DynamoPostAnalyticsRepository, PostAnalyticsRepository

table = contract_table


def repository(table: Table | None, read_cap: int) -> PostAnalyticsRepository:
    if table is None:
        return InMemoryPostAnalyticsRepository(page_read_cap=read_cap)
    return DynamoPostAnalyticsRepository(table.name, table.client, page_read_cap=read_cap)


def fill(repo: PostAnalyticsRepository, user: str) -> None:
    """Eight records: p0..p5 on X, p6 and p7 on YouTube; the even ones measured."""
    for n in range(8):
        platform = Platform.TWITTER if n < 6 else Platform.YOUTUBE
        latest = PostMetrics(views=100 * n, likes=n) if n % 2 == 0 else None
        repo.track(record(user, f"p{n}", platform, latest=latest, published_at=NOW - timedelta(days=n)))


def measured(r: PostAnalytics) -> bool:
    return r.latest is not None


def every_page(
    repo: PostAnalyticsRepository, user: str, platform: Platform | None, limit: int
) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    for _ in range(20):
        found, token = repo.page_for_user(user, platform, measured, limit, token)
        pages.append([r.post_id for r in found])
        if token is None:
            return pages
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize(
    ("read_cap", "platform", "limit", "pages"),
    [
        # a page stops at its limit: the token of the last record kept
        (100, None, 2, [["p0", "p2"], ["p4", "p6"], []]),
        (100, None, 10, [["p0", "p2", "p4", "p6"]]),
        (100, Platform.YOUTUBE, 10, [["p6"]]),
        (100, Platform.TWITTER, 3, [["p0", "p2", "p4"], []]),
        # or at the read cap, whatever it kept: the token of the last record read
        (3, None, 10, [["p0", "p2"], ["p4"], ["p6"]]),
        (2, None, 10, [["p0"], ["p2"], ["p4"], ["p6"], []]),  # the cap met at the last record
        (4, None, 10, [["p0", "p2"], ["p4", "p6"], []]),
    ],
)
def test_pages_of_the_records_a_filter_keeps(
    table: Table | None, read_cap: int, platform: Platform | None, limit: int, pages: list[list[str]]
) -> None:
    repo, user = repository(table, read_cap), user_id()
    fill(repo, user)
    fill(repo, user_id())  # another user's: never read

    assert every_page(repo, user, platform, limit) == pages


def test_the_records_come_whole(table: Table | None) -> None:
    repo, user = repository(table, 100), user_id()
    fill(repo, user)

    found, token = repo.page_for_user(user, Platform.YOUTUBE, measured, 10)

    assert token is None
    assert found == [repo.get(user, Platform.YOUTUBE, "p6")]
    assert found[0].latest == PostMetrics(views=600, likes=6)


def test_a_user_without_records_has_one_empty_page(table: Table | None) -> None:
    assert repository(table, 100).page_for_user(user_id(), None, measured, 10) == ([], None)
