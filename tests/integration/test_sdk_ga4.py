"""The fake GA4 Data API through google-analytics-data (Google's official client), on its REST
transport with `api_endpoint` pointing at the fake (no gRPC, no network): runReport by date with
ordering, totals without dimensions, the property quota, and errors as google.api_core exceptions.
(A 401 makes google-auth try to renew the token, so a wrong token surfaces as its RefreshError; the
401 body itself is covered by our own connector's tests.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import (
    DateRange,
    Dimension,
    Metric,
    MetricType,
    OrderBy,
    RunReportRequest,
)
from google.api_core import exceptions
from google.oauth2.credentials import Credentials

from infra.local.fakes.vendors import FakeVendorServer

PROPERTY, TOKEN = "123456789", "ya29.ga4-token"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=1.0) as server:
        server.register_ga4(TOKEN, PROPERTY)
        today = datetime.now(UTC).date()
        rows = [
            {"date": (today - timedelta(days=d)).isoformat(), "sessions": 10 * (d + 1), "engagementRate": 0.5}
            for d in range(3)
        ]
        server.add_ga4_rows(PROPERTY, rows)
        yield server


def client_for(fake: FakeVendorServer) -> BetaAnalyticsDataClient:
    return BetaAnalyticsDataClient(
        credentials=Credentials(TOKEN), transport="rest", client_options={"api_endpoint": f"{fake.url}/ga4"}
    )


def report(property_id: str = PROPERTY, **extra: object) -> RunReportRequest:
    return RunReportRequest(
        property=f"properties/{property_id}",
        date_ranges=[DateRange(start_date="7daysAgo", end_date="today")],
        metrics=[Metric(name="sessions"), Metric(name="engagementRate")],
        **extra,
    )


def test_run_report_by_date_newest_first(fake: FakeVendorServer) -> None:
    order = OrderBy(dimension=OrderBy.DimensionOrderBy(dimension_name="date"), desc=True)

    answer = client_for(fake).run_report(
        report(dimensions=[Dimension(name="date")], order_bys=[order], return_property_quota=True)
    )

    today = datetime.now(UTC).date()
    assert [h.name for h in answer.dimension_headers] == ["date"]
    assert [(h.name, h.type_) for h in answer.metric_headers] == [
        ("sessions", MetricType.TYPE_INTEGER),
        ("engagementRate", MetricType.TYPE_FLOAT),
    ]
    assert answer.row_count == 3
    days = [row.dimension_values[0].value for row in answer.rows]
    assert days == [(today - timedelta(days=d)).strftime("%Y%m%d") for d in range(3)]
    assert [row.metric_values[0].value for row in answer.rows] == ["10", "20", "30"]
    assert answer.property_quota.tokens_per_day.remaining > 0


def test_without_dimensions_one_row_holds_the_totals(fake: FakeVendorServer) -> None:
    answer = client_for(fake).run_report(report())

    assert answer.row_count == 1
    assert [v.value for v in answer.rows[0].metric_values] == ["60", "0.5"]


def test_errors_are_google_api_core_exceptions(fake: FakeVendorServer) -> None:
    with pytest.raises(exceptions.Forbidden, match="sufficient permissions"):
        client_for(fake).run_report(report("987654321"))
    with pytest.raises(exceptions.BadRequest, match="not a valid metric"):
        client_for(fake).run_report(
            RunReportRequest(
                property=f"properties/{PROPERTY}",
                date_ranges=[DateRange(start_date="yesterday", end_date="today")],
                metrics=[Metric(name="impressions")],
            )
        )


def test_a_throttle_is_resource_exhausted(fake: FakeVendorServer) -> None:
    fake.add_fault("ga4", "rate_limit")

    with pytest.raises(exceptions.TooManyRequests):
        client_for(fake).run_report(report())
