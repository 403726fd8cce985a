"""GET /analytics/readings through the API app (HTTP API v2 events, `handle`), on the in-memory
repositories: the signed-in user's collected and imported readings of a period, page after page, and
every bad input a 4xx with `{code, message, details}`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn

import pytest
from analytics_fakes import account
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from insight_data import NOW, record

from tidings.analytics.collection import MetricsCollection
from tidings.analytics.service import PostAnalyticsService
from tidings.api.app import build_app
from tidings.core.clock import FakeClock, iso_ms
from tidings.core.platforms import Platform
from tidings.models.post_analytics import AnalyticsSource
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository

DAY = timedelta(days=1)


def _no_scheduling() -> NoReturn:
    raise AssertionError("the analytics routes need no scheduling service")


@pytest.fixture
def app() -> APIGatewayHttpResolver:
    clock = FakeClock(NOW)
    records = InMemoryPostAnalyticsRepository()
    for user in ("u1", "u2"):
        for n in range(12):
            records.track(record(f"p{n}", NOW - (n + 1) * DAY, 0.01 * (n + 1), user_id=user))
        imported = record("imp_x", NOW - 3 * DAY, 0.04, platform=Platform.LINKEDIN, user_id=user)
        records.put_imported([imported.model_copy(update={"source": AnalyticsSource.IMPORTED})])
        records.track(record("new", NOW - DAY, measured=False, user_id=user))
    service = PostAnalyticsService(
        records, InMemoryPostRepository(), MetricsCollection(records, {}, account, clock=clock), clock=clock
    )
    return build_app(_no_scheduling, analytics=lambda: service)


def all_pages(app: APIGatewayHttpResolver, query: dict[str, str], user: str = "u1") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token = None
    for _ in range(50):
        status, page = call(
            app, "GET", "/analytics/readings", {**query, **({"nextToken": token} if token else {})}, user=user
        )
        assert status == 200, page
        rows += page["readings"]
        token = page["nextToken"]
        if token is None:
            return rows
    raise AssertionError("the pages never ended")


def test_a_period_reads_collected_and_imported_posts_page_by_page(app: APIGatewayHttpResolver) -> None:
    start, end = iso_ms(NOW - 7 * DAY), iso_ms(NOW)

    status, first = call(app, "GET", "/analytics/readings", {"from": start, "to": end, "limit": "3"})

    assert status == 200
    assert (first["from"], first["to"], first["platform"]) == (start, end, None)
    assert len(first["readings"]) == 3
    assert first["nextToken"]
    rows = all_pages(app, {"from": start, "to": end, "limit": "3"})
    # published 1 to 6 days before now (the 7th is the period's first instant: in it) and the import
    assert sorted(r["postId"] for r in rows) == ["imp_x", *sorted(f"p{n}" for n in range(7))]
    imported = next(r for r in rows if r["postId"] == "imp_x")
    assert imported == {
        "postId": "imp_x",
        "platform": "linkedin",
        "publishedAt": iso_ms(NOW - 3 * DAY),
        "contentType": "photo",
        "source": "imported",
        "engagements": 400,
        "reach": 10_000,
        "views": None,
        "audience": 10_000,
        "engagementRate": 0.04,
    }
    assert {r["source"] for r in rows} == {"collected", "imported"}


def test_the_default_period_is_the_last_30_days_and_a_platform_filters(app: APIGatewayHttpResolver) -> None:
    status, page = call(app, "GET", "/analytics/readings")
    assert status == 200
    assert (page["from"], page["to"]) == (iso_ms(NOW - 30 * DAY), iso_ms(NOW))
    assert len(page["readings"]) == 13  # every measured post of u1

    rows = all_pages(app, {"platform": "linkedin"})
    assert [r["postId"] for r in rows] == ["imp_x"]


def test_another_users_token_is_refused(app: APIGatewayHttpResolver) -> None:
    _, page = call(app, "GET", "/analytics/readings", {"limit": "1"}, user="u2")

    status, error = call(app, "GET", "/analytics/readings", {"nextToken": page["nextToken"]})

    assert (status, error["code"]) == (422, "invalid_next_token")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"from": "last week"}, "invalid_time"),
        ({"to": "2026-02-30T00:00:00Z"}, "invalid_time"),
        ({"from": "2026-06-01T00:00:00"}, "invalid_time"),
        ({"from": "2026-06-20T00:00:00Z", "to": "2026-06-10T00:00:00Z"}, "invalid_period"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-06-10T00:00:00Z"}, "period_too_long"),
        ({"platform": "myspace"}, "invalid_platform"),
        ({"nextToken": "not-a-token"}, "invalid_next_token"),
        ({"limit": "0"}, "validation_error"),
        ({"limit": "1001"}, "validation_error"),
        ({"limit": "many"}, "validation_error"),
        ({"from": "2" * 41}, "validation_error"),
    ],
)
def test_bad_input_is_a_422_with_code_message_and_details(
    app: APIGatewayHttpResolver, query: dict[str, str], code: str
) -> None:
    status, error = call(app, "GET", "/analytics/readings", query)

    assert status == 422
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code


def test_the_route_is_in_the_openapi_document(app: APIGatewayHttpResolver) -> None:
    _, document = call(app, "GET", "/openapi.json")

    route = document["paths"]["/analytics/readings"]["get"]
    assert {p["name"] for p in route["parameters"]} == {"from", "to", "platform", "limit", "nextToken"}
