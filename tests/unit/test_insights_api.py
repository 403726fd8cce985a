"""The insight and summary routes through the API app (HTTP API v2 events, `handle`), with the
in-memory repositories: answers, filters, dismissal, another user's insight, and every bad input a 4xx
with `{code, message, details}`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from insight_data import NOW, around, batch

from tidings.analytics.insights.service import InsightService
from tidings.analytics.summary import AnalyticsSummary
from tidings.api.app import build_app
from tidings.api.insights import InsightServices
from tidings.core.clock import FakeClock
from tidings.store.memory.insights import InMemoryInsightRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository

DAY = timedelta(days=1)


def _no_scheduling() -> NoReturn:
    raise AssertionError("the insight routes need no scheduling service")


@pytest.fixture
def app() -> APIGatewayHttpResolver:
    clock = FakeClock(NOW)
    records = InMemoryPostAnalyticsRepository()
    start = NOW - 14 * DAY
    for user in ("u1", "u2"):
        for r in batch("r", around(0.02, 12), start, NOW, user_id=user) + batch(
            "b", around(0.04, 30), start - 90 * DAY, start, user_id=user
        ):
            records.track(r)
    services = InsightServices(
        InsightService(records, InMemoryInsightRepository(), clock), AnalyticsSummary(records, clock)
    )
    return build_app(_no_scheduling, insights=lambda: services)


def generate(app: APIGatewayHttpResolver, user: str = "u1") -> dict[str, Any]:
    status, body = call(app, "POST", "/insights/generate", user=user)
    assert status == 200, body
    return dict(body)


def test_generate_then_list_and_read(app: APIGatewayHttpResolver) -> None:
    assert call(app, "GET", "/insights") == (200, {"insights": []})

    report = generate(app)

    assert (report["postsAnalysed"], report["generated"], report["created"]) == (42, 2, 2)
    status, listed = call(app, "GET", "/insights")
    assert status == 200
    assert [i["type"] for i in listed["insights"]] == ["warning", "recommendation"]
    warning = listed["insights"][0]
    assert set(warning) >= {
        "id",
        "type",
        "title",
        "description",
        "impact",
        "confidence",
        "evidence",
        "recommendations",
        "createdAt",
        "expiresAt",
    }
    assert warning["createdAt"] == "2026-07-01T12:00:00.000Z"
    assert warning["expiresAt"] == "2026-07-08T12:00:00.000Z"
    assert warning["evidence"]["test"]["name"] == "mann-whitney-u"
    assert listed["insights"][1]["sources"] == [warning["id"]]
    one = call(app, "GET", f"/insights/{warning['id']}", path_parameters={"insightId": warning["id"]})
    assert one == (200, warning)


@pytest.mark.parametrize(
    ("query", "types"),
    [
        ({"type": "warning"}, ["warning"]),
        ({"type": "opportunity"}, []),
        ({"impact": "high"}, ["warning", "recommendation"]),
        ({"impact": "low"}, []),
        ({"minConfidence": "0.99"}, []),
        ({"minConfidence": "0", "type": "recommendation"}, ["recommendation"]),
    ],
)
def test_list_filters(app: APIGatewayHttpResolver, query: dict[str, str], types: list[str]) -> None:
    generate(app)

    status, listed = call(app, "GET", "/insights", query)

    assert status == 200
    assert [i["type"] for i in listed["insights"]] == types


def test_dismiss_hides_an_insight_until_asked_for(app: APIGatewayHttpResolver) -> None:
    generate(app)
    _, listed = call(app, "GET", "/insights", {"type": "warning"})
    the_id = listed["insights"][0]["id"]

    status, dismissed = call(
        app, "POST", f"/insights/{the_id}/dismiss", path_parameters={"insightId": the_id}
    )

    assert (status, dismissed["status"], dismissed["dismissedAt"]) == (
        200,
        "dismissed",
        "2026-07-01T12:00:00.000Z",
    )
    assert call(app, "GET", "/insights", {"type": "warning"})[1] == {"insights": []}
    assert [i["id"] for i in call(app, "GET", "/insights", {"status": "dismissed"})[1]["insights"]] == [
        the_id
    ]
    assert len(call(app, "GET", "/insights", {"status": "all"})[1]["insights"]) == 2
    assert generate(app)["keptDismissed"] == 1


def test_another_users_insight_is_404(app: APIGatewayHttpResolver) -> None:
    generate(app, "u2")
    _, theirs = call(app, "GET", "/insights", user="u2")
    the_id = theirs["insights"][0]["id"]

    for method, path in (("GET", f"/insights/{the_id}"), ("POST", f"/insights/{the_id}/dismiss")):
        status, body = call(app, method, path, path_parameters={"insightId": the_id})
        assert status == 404
        assert body == {
            "code": "insight_not_found",
            "message": "no such insight",
            "details": {"insightId": the_id},
        }
    assert call(app, "GET", "/insights")[1] == {"insights": []}


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status", "code"),
    [
        ("GET", "/insights", {"type": "hunch"}, None, 422, "invalid_type"),
        ("GET", "/insights", {"impact": "huge"}, None, 422, "invalid_impact"),
        ("GET", "/insights", {"minConfidence": "1.5"}, None, 422, "invalid_min_confidence"),
        ("GET", "/insights", {"minConfidence": "-0.1"}, None, 422, "invalid_min_confidence"),
        ("GET", "/insights", {"minConfidence": "high"}, None, 422, "invalid_min_confidence"),
        ("GET", "/insights", {"minConfidence": "nan"}, None, 422, "invalid_min_confidence"),
        ("GET", "/insights", {"status": "archived"}, None, 422, "invalid_status"),
        ("GET", "/insights", {"type": "x" * 40}, None, 422, "validation_error"),
        ("POST", "/insights/generate", None, '{"timezone": "Mars/Olympus"}', 422, "unknown_timezone"),
        ("POST", "/insights/generate", None, '{"timezone": ', 400, "malformed_json"),
        ("POST", "/insights/generate", None, '{"tz": "UTC"}', 422, "validation_error"),
        ("GET", "/analytics/summary", {"range": "1y"}, None, 422, "invalid_range"),
        ("GET", "/analytics/summary", {"platform": "myspace"}, None, 422, "invalid_platform"),
    ],
)
def test_bad_input_is_a_4xx_with_code_message_and_details(
    app: APIGatewayHttpResolver,
    method: str,
    path: str,
    query: dict[str, str] | None,
    body: str | None,
    status: int,
    code: str,
) -> None:
    answer, error = call(app, method, path, query, body)

    assert answer == status
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code


def test_an_unknown_or_unusable_insight_id_is_404(app: APIGatewayHttpResolver) -> None:
    status, body = call(app, "GET", "/insights/ins_nothing", path_parameters={"insightId": "ins_nothing"})
    assert (status, body["code"]) == (404, "insight_not_found")
    status, body = call(app, "GET", "/insights/a b", path_parameters={"insightId": "a b"})
    assert (status, body["code"]) == (404, "not_found")


def test_generate_reads_hours_in_the_given_time_zone(app: APIGatewayHttpResolver) -> None:
    status, report = call(app, "POST", "/insights/generate", body='{"timezone": "America/New_York"}')

    assert status == 200
    assert report["generated"] == 2


def test_the_summary_route(app: APIGatewayHttpResolver) -> None:
    status, summary = call(app, "GET", "/analytics/summary", {"range": "7d", "platform": "facebook"})

    assert status == 200
    assert (summary["range"], summary["platform"]) == ("7d", "facebook")
    current = summary["overall"]["current"]
    assert current["posts"] == 6  # u1's posts of the last 7 days only
    assert current["engagementRate"] == pytest.approx(0.022, abs=1e-3)  # the later, higher half
    assert set(summary["byPlatform"]) == {"facebook"}
    assert set(summary["byContentType"]) == {"photo"}
    assert len(summary["topPosts"]) == 5
    assert set(summary["overall"]["change"]) == {"posts", "engagements", "audience", "engagementRate"}
    assert call(app, "GET", "/analytics/summary")[1]["range"] == "30d"


def test_the_routes_are_in_the_openapi_document(app: APIGatewayHttpResolver) -> None:
    status, document = call(app, "GET", "/openapi.json")

    assert status == 200
    assert {
        "/insights",
        "/insights/generate",
        "/insights/{insightId}",
        "/insights/{insightId}/dismiss",
    } <= set(document["paths"])
    assert "/analytics/summary" in document["paths"]
