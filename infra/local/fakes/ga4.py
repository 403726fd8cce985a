"""The Google Analytics 4 Data API on the fake vendor server, under /ga4/:

    POST /v1beta/properties/{id}:runReport   dateRanges (one), dimensions (date or none), metrics,
                                             orderBys, keepEmptyRows, limit, offset,
                                             returnPropertyQuota; {dimensionHeaders, metricHeaders,
                                             rows, rowCount, metadata, propertyQuota?, kind}

Sources are named in `tidings.integrations.connectors.ga4`, and the schema is the discovery document
in shared/corpora/ga4-analyticsdata. A token is registered for some properties: an unknown token is
401 UNAUTHENTICATED, another property 403 PERMISSION_DENIED, a throttle 429 RESOURCE_EXHAUSTED, in
Google's JSON error shape {error: {code, message, status}}.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request, int_param
from infra.local.fakes.vendor_state import VendorAnswers, vendor_call

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

ROWS_MAX = 250_000
DEFAULT_LIMIT = 10_000
TOKENS_PER_DAY = 200_000
TOKENS_PER_HOUR = 40_000
# The metrics the fake serves and their types (API Dimensions & Metrics).
METRICS: dict[str, str] = {
    "sessions": "TYPE_INTEGER",
    "activeUsers": "TYPE_INTEGER",
    "newUsers": "TYPE_INTEGER",
    "totalUsers": "TYPE_INTEGER",
    "screenPageViews": "TYPE_INTEGER",
    "engagedSessions": "TYPE_INTEGER",
    "eventCount": "TYPE_INTEGER",
    "engagementRate": "TYPE_FLOAT",
}
_SCHEMA = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"


def _error(status: int, state: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": state}})


def _throttle(retry_after: int) -> Reply:
    return _error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour quota for this property.")


def route(fake: FakeVendorServer, req: Request) -> Outcome:
    rest = req.segments[1:]
    if len(rest) != 3 or rest[:2] != ["v1beta", "properties"] or not rest[2].endswith(":runReport"):
        return _error(404, "NOT_FOUND", f"The requested URL {req.path} was not found on this server.")
    if req.method != "POST":
        return _error(405, "UNIMPLEMENTED", f"{req.method} is not supported")
    property_id = rest[2][: -len(":runReport")]

    def allowed(req: Request) -> str | Reply | None:
        with fake.state.lock:
            properties = fake.state.ga4_tokens.get(req.bearer or "")
        if properties is None:
            return None
        if property_id not in properties:
            return _error(
                403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property."
            )
        return property_id

    return vendor_call(fake, req, "ga4", "ga4.runReport", ANSWERS, allowed, _report)[0]


def _report(fake: FakeVendorServer, req: Request, property_id: str) -> Reply:
    body = req.json()
    if not isinstance(body, dict):
        return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    return _run_report(fake, property_id, body)


def _day(text: Any, today: date) -> date | None:
    value = str(text or "")
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    if value.endswith("daysAgo") and value[: -len("daysAgo")].isdigit():
        return today - timedelta(days=int(value[: -len("daysAgo")]))
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _invalid(message: str) -> Reply:
    return _error(400, "INVALID_ARGUMENT", message)


@dataclass(frozen=True)
class _ReportQuery:
    start: date
    end: date
    metrics: list[str]
    by_date: bool
    limit: int
    offset: int
    keep_empty: bool
    descending: bool


def _report_query(body: dict[str, Any], today: date) -> _ReportQuery | Reply:
    """The runReport request the fake can answer, or the INVALID_ARGUMENT answer."""
    ranges = body.get("dateRanges")
    if not isinstance(ranges, list) or len(ranges) != 1 or not isinstance(ranges[0], dict):
        return _invalid("The fake serves exactly one date range.")
    start, end = _day(ranges[0].get("startDate"), today), _day(ranges[0].get("endDate"), today)
    if start is None or end is None:
        return _invalid("Invalid date range: dates are YYYY-MM-DD, NdaysAgo, yesterday or today.")
    if start > end:
        return _invalid(f"Invalid date range: startDate {start} is after endDate {end}.")
    metrics = [str(m.get("name")) for m in body.get("metrics") or [] if isinstance(m, dict)]
    unknown = [name for name in metrics if name not in METRICS]
    if not metrics or unknown:
        return _invalid(f"Field {unknown[0] if unknown else '(none)'} is not a valid metric. See {_SCHEMA}")
    dimensions = [d.get("name") for d in body.get("dimensions") or [] if isinstance(d, dict)]
    if any(name != "date" for name in dimensions):
        return _invalid(f"The fake serves only the date dimension; see {_SCHEMA}")
    limit = int_param(body.get("limit"), DEFAULT_LIMIT)
    offset = int_param(body.get("offset"), 0)
    if limit is None or not 1 <= limit <= ROWS_MAX:
        return _invalid("limit must be positive (at most 250000).")
    if offset is None or offset < 0:
        return _invalid("offset must not be negative.")
    orders = [
        o for o in body.get("orderBys") or [] if isinstance(o, dict) and isinstance(o.get("dimension"), dict)
    ]
    return _ReportQuery(
        start=start,
        end=end,
        metrics=metrics,
        by_date=bool(dimensions),
        limit=limit,
        offset=offset,
        keep_empty=body.get("keepEmptyRows") is True,
        descending=bool(orders) and orders[-1].get("desc") is True,
    )


def _report_rows(query: _ReportQuery, stored: dict[str, dict[str, float]]) -> list[tuple[str, list[float]]]:
    days = sorted(d for d in stored if query.start.isoformat() <= d <= query.end.isoformat())
    if not query.by_date:
        totals = [_total(name, [stored[d] for d in days]) for name in query.metrics]
        return [("", totals)] if query.keep_empty or any(totals) else []
    rows = []
    for day in reversed(days) if query.descending else days:
        values = [stored[day].get(name, 0.0) for name in query.metrics]
        if query.keep_empty or any(values):
            rows.append((day.replace("-", ""), values))
    return rows


def _run_report(fake: FakeVendorServer, property_id: str, body: dict[str, Any]) -> Reply:
    query = _report_query(body, datetime.now(UTC).date())
    if isinstance(query, Reply):
        return query
    with fake.state.lock:
        stored = dict(fake.state.ga4_days.get(property_id, {}))
        fake.state.ga4_tokens_used[property_id] += 1
        used = fake.state.ga4_tokens_used[property_id]
    rows = _report_rows(query, stored)
    answer: dict[str, Any] = {
        "metricHeaders": [{"name": name, "type": METRICS[name]} for name in query.metrics],
        "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
        "kind": "analyticsData#runReport",
    }
    if query.by_date:
        answer["dimensionHeaders"] = [{"name": "date"}]
    page = rows[query.offset : query.offset + query.limit]
    if page:
        answer["rows"] = [
            {
                **({"dimensionValues": [{"value": day}]} if query.by_date else {}),
                "metricValues": [
                    {"value": _metric_text(name, v)} for name, v in zip(query.metrics, values, strict=True)
                ],
            }
            for day, values in page
        ]
    if rows:  # a zero rowCount is left out, as proto3 JSON leaves out zeros
        answer["rowCount"] = len(rows)
    if body.get("returnPropertyQuota") is True:
        answer["propertyQuota"] = {
            "tokensPerDay": {"consumed": 1, "remaining": max(0, TOKENS_PER_DAY - used)},
            "tokensPerHour": {"consumed": 1, "remaining": max(0, TOKENS_PER_HOUR - used)},
            "concurrentRequests": {"remaining": 10},
            "serverErrorsPerProjectPerHour": {"remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"remaining": 120},
            "tokensPerProjectPerHour": {"consumed": 1, "remaining": max(0, 14_000 - used)},
        }
    return Reply(200, answer)


def _total(name: str, days: list[dict[str, float]]) -> float:
    if METRICS[name] == "TYPE_INTEGER":
        return sum(d.get(name, 0.0) for d in days)
    weights = [d.get("sessions", 0.0) for d in days]  # rates are per session
    if not sum(weights):
        return 0.0
    return sum(d.get(name, 0.0) * w for d, w in zip(days, weights, strict=True)) / sum(weights)


def _metric_text(name: str, value: float) -> str:
    return str(round(value)) if METRICS[name] == "TYPE_INTEGER" else repr(float(value))


ANSWERS = VendorAnswers(
    server_error=lambda: _error(500, "INTERNAL", "Internal error encountered."),
    rate_limited=_throttle,
    unauthorized=lambda: _error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential.",
    ),
)
