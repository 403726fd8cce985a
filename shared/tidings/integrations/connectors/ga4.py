"""Google Analytics 4 site metrics per day through the Analytics Data API v1beta, with an OAuth token.

Sources:
- Google's discovery document for the Analytics Data API v1beta (analyticsdata.v1beta.json):
  `POST v1beta/properties/{propertyId}:runReport` with dateRanges [{startDate, endDate}] (YYYY-MM-DD,
  or `NdaysAgo`, `yesterday`, `today` in the property's time zone), dimensions, metrics, orderBys
  ({dimension: {dimensionName}}), keepEmptyRows, limit and offset (int64, sent as strings; the first
  page has no offset, the next one starts at the previous limit), returnPropertyQuota; answering
  dimensionHeaders, metricHeaders [{name, type: TYPE_INTEGER, TYPE_FLOAT, ...}], rows
  [{dimensionValues: [{value}], metricValues: [{value}]}] (values are strings), rowCount (all rows
  of the query, whatever the limit and offset), metadata {currencyCode, timeZone}, propertyQuota
  {tokensPerDay, tokensPerHour, ...: {consumed, remaining}}. The OAuth scope is
  https://www.googleapis.com/auth/analytics.readonly.
- "API Dimensions & Metrics" (developers.google.com/analytics/devguides/reporting/data/v1/api-schema):
  dimension `date` is formatted YYYYMMDD; metrics `sessions`, `activeUsers`, `screenPageViews`,
  `engagementRate` (a fraction of sessions that were engaged).
- Site analytics (`landing_pages`, `attribution`), from "API Dimensions & Metrics" and the discovery
  document's FilterExpression: dimensions `date`, `landingPage` (the page path of a session's first
  page view; `landingPagePlusQueryString` would add the query string but, like other query-string
  dimensions since the 2022-12-01 compatibility changes, combines only with a few metrics, and
  Tidings' tags are in the query), `sessionSource`, `sessionMedium`, `sessionCampaignName` and
  `sessionManualAdContent` (the session's utm_source, utm_medium, utm_campaign and utm_content);
  metrics `sessions`, `engagedSessions`, `keyEvents` (what was `conversions` until the Data API's
  key events change of 2024-05-06) and `totalRevenue` (TYPE_CURRENCY, 0 for a property without
  e-commerce). The attribution report narrows to Tidings' medium and campaign with a dimensionFilter
  andGroup of two stringFilter EXACT filters.
- Data API "Errors": {"error": {"code", "message", "status"}}; 400 INVALID_ARGUMENT, 401
  UNAUTHENTICATED, 403 PERMISSION_DENIED, 429 RESOURCE_EXHAUSTED (a property or project quota),
  500 INTERNAL and 503 UNAVAILABLE (retry with backoff). Google's error model ("Errors", API design
  guide) may add a google.rpc.RetryInfo detail with `retryDelay`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

import httpx

from tidings.core.config import Settings
from tidings.core.http import json_body
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    SyncResult,
)
from tidings.integrations.connectors.vendors import (
    VendorConnector,
    as_object,
    as_utc,
    check_max_records,
    code_for_status,
    header_retry_after,
    iso_z,
    json_object,
    require_secret,
    require_setting,
    string_facts,
    string_or_none,
    take_page,
    vendor_error,
)
from tidings.models.integrations import SyncedRecord

METRICS = ("sessions", "activeUsers", "screenPageViews", "engagementRate")
PAGE_DEFAULT = 1000
PAGE_MAX = 250_000  # the API returns at most this many rows per request
DEFAULT_DAYS = 28
_PROPERTY_ID = re.compile(r"[0-9]{1,20}")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")
_STATUS_CODES = {
    "UNAUTHENTICATED": "auth_failed",
    "PERMISSION_DENIED": "auth_failed",
    "RESOURCE_EXHAUSTED": "rate_limited",
    "INVALID_ARGUMENT": "invalid_settings",
    "FAILED_PRECONDITION": "invalid_settings",
    "OUT_OF_RANGE": "invalid_settings",
    "NOT_FOUND": "not_found",
    "INTERNAL": "unreachable",
    "UNAVAILABLE": "unreachable",
    "DEADLINE_EXCEEDED": "unreachable",
    "UNKNOWN": "unreachable",
}
_INTEGER_TYPES = frozenset({"TYPE_INTEGER"})
SITE_METRICS = ("sessions", "engagedSessions", "keyEvents", "totalRevenue")
LANDING_DIMENSIONS = ("date", "landingPage")
ATTRIBUTION_DIMENSIONS = ("sessionSource", "sessionMedium", "sessionCampaignName", "sessionManualAdContent")
SITE_ROWS_MAX = 100_000  # the most rows one site report reads, page by page
_T = TypeVar("_T")


@dataclass(frozen=True)
class SiteMetrics:
    sessions: int
    engaged_sessions: int
    key_events: float
    revenue: float  # totalRevenue: 0 where the property records none


@dataclass(frozen=True)
class LandingPageDay:
    """A landing page's sessions on one day (in the property's time zone)."""

    day: date
    landing_page: str
    metrics: SiteMetrics


@dataclass(frozen=True)
class TaggedVisits:
    """Sessions that arrived through links tagged with one utm_source and utm_content."""

    source: str
    content: str
    metrics: SiteMetrics


@dataclass(frozen=True)
class SiteReport(Generic[_T]):
    rows: tuple[_T, ...]
    complete: bool  # False when it stopped at the row limit with more rows left
    currency: str | None = None


class GA4Connector(VendorConnector):
    """Daily site metrics of one GA4 property. Setting `propertyId` (digits); secret `accessToken`
    (an OAuth access token with the analytics.readonly scope)."""

    type: str = "analytics"
    provider: str = "ga4"
    required_settings: tuple[str, ...] = ("propertyId",)
    required_secrets: tuple[str, ...] = ("accessToken",)
    # renews the access token through Google's OAuth token endpoint (tidings.analytics.site)
    optional_secrets: tuple[str, ...] = ("refreshToken",)
    page_default = PAGE_DEFAULT
    page_max = PAGE_MAX

    @staticmethod
    def _api_base(settings: Settings) -> str:
        return settings.ga4_data_api_base

    # -- check ------------------------------------------------------------------------------------

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        """One row of yesterday's active users with the property's quota: proves the token may run
        reports on the property, at the cost of a few quota tokens."""
        property_id = _property_id(creds)
        token = require_secret(creds, "accessToken", self.provider)
        body = self._run_report(
            token,
            property_id,
            {
                "dateRanges": [{"startDate": "yesterday", "endDate": "yesterday"}],
                "metrics": [{"name": "activeUsers"}],
                "limit": "1",
                "returnPropertyQuota": True,
            },
            observe,
        )
        facts: dict[str, Any] = {"propertyId": property_id}
        facts.update(string_facts(as_object(body.get("metadata")), ("timeZone", "currencyCode")))
        quota = as_object(body.get("propertyQuota"))
        for name in ("tokensPerDay", "tokensPerHour", "concurrentRequests"):
            status = quota.get(name)
            remaining = status.get("remaining") if isinstance(status, dict) else None
            if isinstance(remaining, int) and not isinstance(remaining, bool):
                facts[f"{name}Remaining"] = remaining
        zone = facts.get("timeZone")
        detail = f"Google Analytics property {property_id}" + (f" ({zone})" if zone else "")
        return CheckResult(account_label=f"properties/{property_id}", detail=detail, facts=facts)

    # -- sync -------------------------------------------------------------------------------------

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        """One `site_metrics` record per day from `since`'s date (default 28 days ago) to today in the
        property's time zone, oldest day first, paged with limit and offset up to rowCount. Days with
        no traffic come as zeros. The cursor is the last day returned: the latest days are still
        being processed by Google Analytics, so the next sync fetches that day again."""
        check_max_records(max_records)
        property_id = _property_id(creds)
        token = require_secret(creds, "accessToken", self.provider)
        today = self.clock.now().astimezone(UTC).date()
        start = as_utc(since).date() if since is not None else today - timedelta(days=DEFAULT_DAYS)
        start = min(start, today)
        limit = min(self.page_size, max_records)
        request: dict[str, Any] = {
            "dateRanges": [{"startDate": start.isoformat(), "endDate": "today"}],
            "dimensions": [{"name": "date"}],
            "metrics": [{"name": name} for name in METRICS],
            "orderBys": [{"dimension": {"dimensionName": "date"}, "desc": False}],
            "keepEmptyRows": True,
            "limit": str(limit),
        }
        records: list[SyncedRecord] = []
        offset = 0
        while True:
            if offset:
                request["offset"] = str(offset)
            body = self._run_report(token, property_id, request, observe)
            rows = body.get("rows", [])
            if not isinstance(rows, list):
                raise ConnectorError("unexpected_response", "Google Analytics answered rows that are no list")
            row_count = body.get("rowCount", 0)
            if not isinstance(row_count, int) or isinstance(row_count, bool):
                raise ConnectorError(
                    "unexpected_response", "Google Analytics answered a rowCount that is no integer"
                )
            columns = _columns(body)
            more = bool(rows) and offset + len(rows) < row_count
            complete = take_page(records, rows, partial(_day, columns=columns), max_records, more=more)
            if len(records) >= max_records or not more:
                break
            offset += len(rows)
        cursor: str | None = None
        if records:
            last = date.fromisoformat(str(records[-1].key))
            cursor = iso_z(datetime(last.year, last.month, last.day, tzinfo=UTC))
        elif since is not None:
            cursor = iso_z(since)
        return SyncResult(records=tuple(records), complete=complete, cursor=cursor)

    # -- site analytics ---------------------------------------------------------------------------

    def landing_pages(
        self,
        creds: ConnectorCredentials,
        start: date,
        end: date,
        observe: CallObserver,
        max_rows: int = SITE_ROWS_MAX,
    ) -> SiteReport[LandingPageDay]:
        """Sessions, engaged sessions, key events and revenue per day and landing page, from `start`
        to `end` (inclusive), ordered by day and page so that paging by offset is stable."""
        request = _site_request(start, end, LANDING_DIMENSIONS)
        return self._site_report(creds, request, observe, max_rows, _landing_page_day)

    def attribution(
        self,
        creds: ConnectorCredentials,
        start: date,
        end: date,
        observe: CallObserver,
        *,
        medium: str,
        campaign: str,
        max_rows: int = SITE_ROWS_MAX,
    ) -> SiteReport[TaggedVisits]:
        """The same metrics per utm_source and utm_content, over the whole range, of the sessions
        whose utm_medium and utm_campaign are `medium` and `campaign`."""
        request = _site_request(start, end, ATTRIBUTION_DIMENSIONS)
        request["dimensionFilter"] = {
            "andGroup": {
                "expressions": [
                    _exact("sessionMedium", medium),
                    _exact("sessionCampaignName", campaign),
                ]
            }
        }
        return self._site_report(creds, request, observe, max_rows, _tagged_visits)

    def _site_report(
        self,
        creds: ConnectorCredentials,
        request: dict[str, Any],
        observe: CallObserver,
        max_rows: int,
        convert: Callable[[dict[str, str], dict[str, float]], _T],
    ) -> SiteReport[_T]:
        check_max_records(max_rows)
        property_id = _property_id(creds)
        token = require_secret(creds, "accessToken", self.provider)
        request["limit"] = str(min(self.page_size, max_rows))
        found: list[_T] = []
        currency: str | None = None
        while True:
            if found:
                request["offset"] = str(len(found))
            body = self._run_report(token, property_id, request, observe)
            currency = string_or_none(as_object(body.get("metadata")).get("currencyCode")) or currency
            rows, row_count = _rows_and_count(body)
            found += [convert(*cells) for cells in _cells(body, rows)][: max_rows - len(found)]
            if not rows or len(found) >= row_count:
                return SiteReport(tuple(found), True, currency)
            if len(found) >= max_rows:
                return SiteReport(tuple(found), False, currency)

    # -- HTTP -------------------------------------------------------------------------------------

    def _run_report(
        self, token: str, property_id: str, request: dict[str, Any], observe: CallObserver
    ) -> dict[str, Any]:
        path = f"/v1beta/properties/{property_id}:runReport"
        response = self._call(token, "POST", path, "runReport", observe, json=request)
        return json_object(response, "runReport")

    def _error(self, response: httpx.Response, operation: str, secret: str) -> ConnectorError:
        return google_error(response, operation, token=secret, now=self.clock.now())


def google_error(response: httpx.Response, operation: str, *, token: str, now: datetime) -> ConnectorError:
    """A Google API error answer as a ConnectorError (see the module sources)."""
    status = response.status_code
    error = json_body(response).get("error")
    fields: dict[str, Any] = error if isinstance(error, dict) else {}
    state = string_or_none(fields.get("status"))
    message = string_or_none(fields.get("message")) or response.reason_phrase or "no message"
    code = _STATUS_CODES.get(state or "") or code_for_status(status)
    retry_after = None
    if code == "rate_limited":
        retry_after = header_retry_after(response, now)
        if retry_after is None:
            retry_after = _retry_delay(fields.get("details"))
    text = f"Google Analytics {operation}: HTTP {status}" + (f" {state}" if state else "") + f": {message}"
    return vendor_error(code, text, secrets=(token,), status=status, retry_after=retry_after)


def _retry_delay(details: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail's retryDelay (a Duration such as "30s")."""
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _property_id(creds: ConnectorCredentials) -> str:
    value = require_setting(creds, "propertyId", "ga4")
    if value.startswith("properties/"):
        value = value[len("properties/") :]
    if not _PROPERTY_ID.fullmatch(value):
        raise ConnectorError("invalid_settings", "the GA4 propertyId must be the property's numeric id")
    return value


def _site_request(start: date, end: date, dimensions: tuple[str, ...]) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
        "dimensions": [{"name": name} for name in dimensions],
        "metrics": [{"name": name} for name in SITE_METRICS],
        "orderBys": [{"dimension": {"dimensionName": name}, "desc": False} for name in dimensions],
    }


def _exact(field: str, value: str) -> dict[str, Any]:
    return {"filter": {"fieldName": field, "stringFilter": {"matchType": "EXACT", "value": value}}}


def _rows_and_count(body: dict[str, Any]) -> tuple[list[Any], int]:
    rows = body.get("rows", [])
    row_count = body.get("rowCount", 0)
    if not isinstance(rows, list):
        raise ConnectorError("unexpected_response", "Google Analytics answered rows that are no list")
    if not isinstance(row_count, int) or isinstance(row_count, bool):
        raise ConnectorError("unexpected_response", "Google Analytics answered a rowCount that is no integer")
    return rows, row_count


def _cells(body: dict[str, Any], rows: list[Any]) -> list[tuple[dict[str, str], dict[str, float]]]:
    """Each row as its dimension values and its metric values, by name."""
    if not rows:
        return []
    dimensions = body.get("dimensionHeaders")
    metrics = body.get("metricHeaders")
    if not isinstance(dimensions, list) or not isinstance(metrics, list):
        raise ConnectorError("unexpected_response", "Google Analytics answered rows without their headers")
    names = [str(as_object(d).get("name")) for d in dimensions]
    columns = [
        (str(as_object(m).get("name")), str(as_object(m).get("type")) in _INTEGER_TYPES) for m in metrics
    ]
    if not set(SITE_METRICS) <= {name for name, _ in columns}:
        raise ConnectorError("unexpected_response", "Google Analytics answered without the metrics asked for")
    cells: list[tuple[dict[str, str], dict[str, float]]] = []
    for row in rows:
        dims = as_object(row).get("dimensionValues")
        values = as_object(row).get("metricValues")
        if not isinstance(dims, list) or not isinstance(values, list):
            raise ConnectorError("unexpected_response", "Google Analytics answered a row unlike its headers")
        if len(dims) != len(names) or len(values) != len(columns):
            raise ConnectorError("unexpected_response", "Google Analytics answered a row unlike its headers")
        texts = {name: str(as_object(cell).get("value", "")) for name, cell in zip(names, dims, strict=True)}
        numbers = {
            name: _number(name, as_object(cell).get("value"), integer)
            for (name, integer), cell in zip(columns, values, strict=True)
        }
        cells.append((texts, numbers))
    return cells


def _number(name: str, text: Any, integer: bool) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise ConnectorError(
            "unexpected_response", f"Google Analytics answered {name}={text!r}, not a number"
        ) from None
    return float(round(value)) if integer else value


def _site_metrics(numbers: dict[str, float]) -> SiteMetrics:
    return SiteMetrics(
        sessions=int(numbers["sessions"]),
        engaged_sessions=int(numbers["engagedSessions"]),
        key_events=numbers["keyEvents"],
        revenue=numbers["totalRevenue"],
    )


def _dimension(texts: dict[str, str], name: str) -> str:
    if name not in texts:
        raise ConnectorError("unexpected_response", f"Google Analytics answered without the {name} dimension")
    return texts[name]


def _landing_page_day(texts: dict[str, str], numbers: dict[str, float]) -> LandingPageDay:
    raw = _dimension(texts, "date")
    try:
        day = datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:
        raise ConnectorError("unexpected_response", f"Google Analytics answered the date {raw!r}") from None
    return LandingPageDay(day, _dimension(texts, "landingPage"), _site_metrics(numbers))


def _tagged_visits(texts: dict[str, str], numbers: dict[str, float]) -> TaggedVisits:
    return TaggedVisits(
        _dimension(texts, "sessionSource"),
        _dimension(texts, "sessionManualAdContent"),
        _site_metrics(numbers),
    )


def _columns(body: dict[str, Any]) -> tuple[int, list[tuple[str, bool]]]:
    """The index of the date dimension, and each metric's name and whether it is an integer."""
    dimensions = body.get("dimensionHeaders")
    metrics = body.get("metricHeaders")
    names = [d.get("name") for d in dimensions if isinstance(d, dict)] if isinstance(dimensions, list) else []
    if not body.get("rows"):
        return 0, []
    if "date" not in names or not isinstance(metrics, list):
        raise ConnectorError(
            "unexpected_response", "Google Analytics answered without the date or metric headers"
        )
    columns = [
        (str(m.get("name")), str(m.get("type")) in _INTEGER_TYPES) for m in metrics if isinstance(m, dict)
    ]
    return names.index("date"), columns


def _day(row: Any, columns: tuple[int, list[tuple[str, bool]]]) -> SyncedRecord:
    date_index, metrics = columns
    dims = row.get("dimensionValues") if isinstance(row, dict) else None
    values = row.get("metricValues") if isinstance(row, dict) else None
    if not isinstance(dims, list) or not isinstance(values, list) or len(values) != len(metrics):
        raise ConnectorError("unexpected_response", "Google Analytics answered a row unlike its headers")
    raw = (
        dims[date_index].get("value")
        if date_index < len(dims) and isinstance(dims[date_index], dict)
        else None
    )
    try:
        day = datetime.strptime(str(raw), "%Y%m%d").date()
    except ValueError:
        raise ConnectorError("unexpected_response", f"Google Analytics answered the date {raw!r}") from None
    attributes: dict[str, Any] = {"date": day.isoformat()}
    for (name, integer), cell in zip(metrics, values, strict=True):
        text = cell.get("value") if isinstance(cell, dict) else None
        try:
            attributes[name] = int(str(text)) if integer else float(str(text))
        except ValueError:
            raise ConnectorError(
                "unexpected_response", f"Google Analytics answered {name}={text!r}, not a number"
            ) from None
    return SyncedRecord(kind="site_metrics", key=day.isoformat(), attributes=attributes)
