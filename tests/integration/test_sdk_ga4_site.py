"""The fake GA4 Data API's site reports through google-analytics-data (Google's official client) on its
REST transport: the attribution report with a FilterExpression (andGroup of EXACT string filters)
on session source, medium, campaign and manual ad content with keyEvents and totalRevenue, and the
landing-page report per day, paged by limit and offset. A second client reading what our connector
reads, so a fake that drifts from Google's documented shapes fails here too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import (
    DateRange,
    Dimension,
    Filter,
    FilterExpression,
    FilterExpressionList,
    Metric,
    MetricType,
    OrderBy,
    RunReportRequest,
)
from google.oauth2.credentials import Credentials

from infra.local.fakes.vendors import FakeVendorServer

PROPERTY, TOKEN = "135792468", "ya29.ga4-site-sdk-token"
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=1.0) as server:
        server.register_ga4(TOKEN, PROPERTY)
        visits = [
            {"postId": "p1", "platform": "facebook", "sessions": 6, "engagedSessions": 4, "conversions": 2},
            {"postId": "p1", "platform": "linkedin", "sessions": 3, "landingPage": "/listing/42"},
            {"postId": "p2", "platform": "twitter", "sessions": 5, "revenue": 120.0, "date": _day(1)},
            {"postId": "p9", "platform": "facebook", "sessions": 50, "medium": "email"},
        ]
        with httpx.Client(base_url=server.url) as own:
            for body in visits:
                assert own.post("/ga4/_visits", json={"propertyId": PROPERTY, **body}).status_code == 201
        yield server


def _day(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def client_for(fake: FakeVendorServer) -> BetaAnalyticsDataClient:
    return BetaAnalyticsDataClient(
        credentials=Credentials(TOKEN), transport="rest", client_options={"api_endpoint": f"{fake.url}/ga4"}
    )


def exact(field: str, value: str) -> FilterExpression:
    return FilterExpression(
        filter=Filter(
            field_name=field,
            string_filter=Filter.StringFilter(match_type=Filter.StringFilter.MatchType.EXACT, value=value),
        )
    )


METRICS = [Metric(name=n) for n in ("sessions", "engagedSessions", "keyEvents", "totalRevenue")]


def test_the_attribution_report_through_googles_client(fake: FakeVendorServer) -> None:
    request = RunReportRequest(
        property=f"properties/{PROPERTY}",
        date_ranges=[DateRange(start_date="30daysAgo", end_date="today")],
        dimensions=[
            Dimension(name=n)
            for n in ("sessionSource", "sessionMedium", "sessionCampaignName", "sessionManualAdContent")
        ],
        metrics=METRICS,
        dimension_filter=FilterExpression(
            and_group=FilterExpressionList(
                expressions=[exact("sessionMedium", "social"), exact("sessionCampaignName", "tidings")]
            )
        ),
        order_bys=[OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name="sessionManualAdContent"))],
    )

    answer = client_for(fake).run_report(request)

    assert [(h.name, h.type_) for h in answer.metric_headers] == [
        ("sessions", MetricType.TYPE_INTEGER),
        ("engagedSessions", MetricType.TYPE_INTEGER),
        ("keyEvents", MetricType.TYPE_FLOAT),
        ("totalRevenue", MetricType.TYPE_CURRENCY),
    ]
    rows = {
        (r.dimension_values[0].value, r.dimension_values[3].value): [v.value for v in r.metric_values]
        for r in answer.rows
    }
    assert set(rows) == {("facebook", "p1"), ("linkedin", "p1"), ("twitter", "p2")}  # not the email visit
    assert rows["facebook", "p1"][:3] == ["6", "4", "2.0"]
    assert float(rows["twitter", "p2"][3]) == 120.0
    assert answer.row_count == 3
    assert answer.metadata.currency_code == "USD"


def test_the_landing_page_report_pages_by_offset(fake: FakeVendorServer) -> None:
    def page(offset: int) -> list[tuple[str, str, str]]:
        answer = client_for(fake).run_report(
            RunReportRequest(
                property=f"properties/{PROPERTY}",
                date_ranges=[DateRange(start_date="7daysAgo", end_date="today")],
                dimensions=[Dimension(name="date"), Dimension(name="landingPage")],
                metrics=METRICS,
                order_bys=[
                    OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name="date")),
                    OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name="landingPage")),
                ],
                limit=2,
                offset=offset,
            )
        )
        assert answer.row_count == 3
        return [
            (r.dimension_values[0].value, r.dimension_values[1].value, r.metric_values[0].value)
            for r in answer.rows
        ]

    today, yesterday = TODAY.strftime("%Y%m%d"), (TODAY - timedelta(days=1)).strftime("%Y%m%d")
    assert page(0) + page(2) == [(yesterday, "/", "5"), (today, "/", "56"), (today, "/listing/42", "3")]
