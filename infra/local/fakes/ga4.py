"""The Google Analytics 4 Data API on the fake vendor server, under /ga4/:

    POST /v1beta/properties/{id}:runReport   dateRanges (one), dimensions (see DIMENSIONS), metrics
                                             (see METRICS), dimensionFilter (filter with stringFilter
                                             or inListFilter; andGroup, orGroup, notExpression),
                                             orderBys (by dimension or metric), keepEmptyRows, limit,
                                             offset, returnPropertyQuota; {dimensionHeaders,
                                             metricHeaders, rows, rowCount, metadata, propertyQuota?,
                                             kind}

and the fake's own control of what the property recorded through UTM-tagged links, beside Google's
paths under the same prefix:

    POST   /_visits  {propertyId, postId, platform, sessions, engagedSessions?, conversions? (or
                     keyEvents), revenue?, date? (YYYY-MM-DD, default today in UTC), landingPage?
                     ("/"), medium? ("social"), campaign? ("tidings")}: sessions that came through
                     the post's tagged link on that platform (utm_source=platform,
                     utm_content=postId); GET ?propertyId= lists them, DELETE ?propertyId= removes them

Day rows posted to /_vendors/ga4 are traffic without a campaign: every dimension but `date` is
"(not set)" for them, as GA4 says for a value it did not record. Tagged visits add to the day totals.

Sources are named in `tidings.integrations.connectors.ga4`, and the schema is the discovery document
in shared/corpora/ga4-analyticsdata. A token is registered for some properties: an unknown token is
401 UNAUTHENTICATED, another property 403 PERMISSION_DENIED, a throttle 429 RESOURCE_EXHAUSTED, in
Google's JSON error shape {error: {code, message, status}}.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request, int_param
from infra.local.fakes.vendor_state import Ga4Visit, VendorAnswers, vendor_call

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
    "keyEvents": "TYPE_FLOAT",
    "totalRevenue": "TYPE_CURRENCY",
}
RATES = frozenset({"engagementRate"})  # per session: totals weigh them by sessions
DIMENSIONS = (
    "date",
    "landingPage",
    "landingPagePlusQueryString",
    "sessionSource",
    "sessionMedium",
    "sessionCampaignName",
    "sessionManualAdContent",
)
NOT_SET = "(not set)"
_SCHEMA = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"

Fact = tuple[dict[str, str], dict[str, float]]  # what the property recorded: dimensions, metrics
Predicate = Callable[[dict[str, str]], bool]


def _error(status: int, state: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": state}})


def _throttle(retry_after: int) -> Reply:
    return _error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour quota for this property.")


def route(fake: FakeVendorServer, req: Request) -> Outcome:
    rest = req.segments[1:]
    if rest == ["_visits"]:
        return _own_visits(fake, req)
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


# -- the request -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReportQuery:
    start: date
    end: date
    dimensions: list[str]
    metrics: list[str]
    keep: Predicate
    orders: list[tuple[str, bool, bool]]  # (name, is a metric, descending), most significant first
    limit: int
    offset: int
    keep_empty: bool


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
    dimensions = [str(d.get("name")) for d in body.get("dimensions") or [] if isinstance(d, dict)]
    strange = [name for name in dimensions if name not in DIMENSIONS]
    if strange:
        return _invalid(f"Field {strange[0]} is not a dimension the fake serves; see {_SCHEMA}")
    if body.get("metricFilter") is not None:
        return _invalid("The fake does not serve metricFilter.")
    keep = _predicate(body.get("dimensionFilter")) if body.get("dimensionFilter") is not None else _every
    orders = _orders(body.get("orderBys"), dimensions, metrics)
    limit = int_param(body.get("limit"), DEFAULT_LIMIT)
    offset = int_param(body.get("offset"), 0)
    if isinstance(keep, str):
        return _invalid(keep)
    if isinstance(orders, str):
        return _invalid(orders)
    if limit is None or not 1 <= limit <= ROWS_MAX:
        return _invalid("limit must be positive (at most 250000).")
    if offset is None or offset < 0:
        return _invalid("offset must not be negative.")
    return _ReportQuery(
        start, end, dimensions, metrics, keep, orders, limit, offset, body.get("keepEmptyRows") is True
    )


def _every(dims: dict[str, str]) -> bool:
    return True


def _orders(raw: Any, dimensions: list[str], metrics: list[str]) -> list[tuple[str, bool, bool]] | str:
    orders: list[tuple[str, bool, bool]] = []
    for order in raw if isinstance(raw, list) else []:
        if not isinstance(order, dict):
            return "Each orderBy must be an object."
        by_dimension, by_metric = order.get("dimension"), order.get("metric")
        if isinstance(by_dimension, dict) and by_dimension.get("dimensionName") in dimensions:
            orders.append((str(by_dimension["dimensionName"]), False, order.get("desc") is True))
        elif isinstance(by_metric, dict) and by_metric.get("metricName") in metrics:
            orders.append((str(by_metric["metricName"]), True, order.get("desc") is True))
        else:
            return "An orderBy must name a dimension or metric of the request."
    return orders


def _predicate(expression: Any) -> Predicate | str:
    """A FilterExpression over dimension values, or why the fake cannot serve it."""
    if not isinstance(expression, dict) or len(expression) != 1:
        return "A FilterExpression holds exactly one of filter, andGroup, orGroup, notExpression."
    kind, inner = next(iter(expression.items()))
    if kind in ("andGroup", "orGroup"):
        items = inner.get("expressions") if isinstance(inner, dict) else None
        if not isinstance(items, list) or not items:
            return f"{kind}.expressions must be a non-empty list."
        parts = [_predicate(item) for item in items]
        failed = [p for p in parts if isinstance(p, str)]
        if failed:
            return failed[0]
        checks = [p for p in parts if not isinstance(p, str)]
        combine = all if kind == "andGroup" else any
        return lambda dims: combine(check(dims) for check in checks)
    if kind == "notExpression":
        negated = _predicate(inner)
        return negated if isinstance(negated, str) else (lambda dims: not negated(dims))
    if kind == "filter" and isinstance(inner, dict):
        return _filter(inner)
    return f"Unknown filter expression {kind!r}."


def _filter(spec: dict[str, Any]) -> Predicate | str:
    field = spec.get("fieldName")
    if field not in DIMENSIONS:
        return f"Field {field} is not a dimension the fake filters on; see {_SCHEMA}"
    name = str(field)
    if isinstance(spec.get("stringFilter"), dict):
        return _string_filter(name, spec["stringFilter"])
    listed = spec.get("inListFilter")
    if isinstance(listed, dict) and isinstance(listed.get("values"), list) and listed["values"]:
        sensitive = listed.get("caseSensitive") is True
        wanted = {str(v) if sensitive else str(v).lower() for v in listed["values"]}
        return lambda dims: (dims[name] if sensitive else dims[name].lower()) in wanted
    return "The fake serves stringFilter and inListFilter (with values) only."


# StringFilter.matchType in the discovery document's order: proto3 JSON takes an enum by its name or
# its number (Google's clients send numbers with $alt=json;enum-encoding=int).
MATCH_TYPES = (
    "MATCH_TYPE_UNSPECIFIED",
    "EXACT",
    "BEGINS_WITH",
    "ENDS_WITH",
    "CONTAINS",
    "FULL_REGEXP",
    "PARTIAL_REGEXP",
)


def _string_filter(name: str, spec: dict[str, Any]) -> Predicate | str:
    raw: Any = spec.get("matchType") or "EXACT"
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(MATCH_TYPES):
        raw = MATCH_TYPES[raw]
    match_type = str(raw)
    value = str(spec.get("value") or "")
    sensitive = spec.get("caseSensitive") is True
    if match_type in ("FULL_REGEXP", "PARTIAL_REGEXP"):
        try:
            pattern = re.compile(value, 0 if sensitive else re.IGNORECASE)
        except re.error:
            return f"Invalid regular expression {value!r}."
        search = pattern.fullmatch if match_type == "FULL_REGEXP" else pattern.search
        return lambda dims: search(dims[name]) is not None
    tests: dict[str, Callable[[str, str], bool]] = {
        "EXACT": lambda text, v: text == v,
        "MATCH_TYPE_UNSPECIFIED": lambda text, v: text == v,
        "BEGINS_WITH": lambda text, v: text.startswith(v),
        "ENDS_WITH": lambda text, v: text.endswith(v),
        "CONTAINS": lambda text, v: v in text,
    }
    if match_type not in tests:
        return f"Unknown matchType {match_type!r}."
    test = tests[match_type]
    wanted = value if sensitive else value.lower()
    return lambda dims: test(dims[name] if sensitive else dims[name].lower(), wanted)


# -- the data ----------------------------------------------------------------------------------------


def _facts(days: dict[str, dict[str, float]], visits: list[Ga4Visit]) -> list[Fact]:
    """What the property recorded: the day rows (no campaign) and the tagged visits."""
    facts: list[Fact] = [
        ({name: NOT_SET for name in DIMENSIONS} | {"date": day}, dict(m)) for day, m in days.items()
    ]
    for visit in visits:
        tags = f"utm_source={visit.source}&utm_medium={visit.medium}&utm_campaign={visit.campaign}"
        dims = {
            "date": visit.day,
            "landingPage": visit.landing_page,
            "landingPagePlusQueryString": f"{visit.landing_page}?{tags}&utm_content={visit.content}",
            "sessionSource": visit.source,
            "sessionMedium": visit.medium,
            "sessionCampaignName": visit.campaign,
            "sessionManualAdContent": visit.content,
        }
        metrics = {
            "sessions": float(visit.sessions),
            "engagedSessions": float(visit.engaged_sessions),
            "keyEvents": visit.key_events,
            "totalRevenue": visit.revenue,
            "engagementRate": visit.engaged_sessions / visit.sessions if visit.sessions else 0.0,
        }
        facts.append((dims, metrics))
    return facts


def _total(name: str, group: list[dict[str, float]]) -> float:
    if name not in RATES:
        return sum(m.get(name, 0.0) for m in group)
    weights = [m.get("sessions", 0.0) for m in group]
    if not sum(weights):
        return 0.0
    return sum(m.get(name, 0.0) * w for m, w in zip(group, weights, strict=True)) / sum(weights)


def _report_rows(query: _ReportQuery, facts: list[Fact]) -> list[tuple[list[str], list[float]]]:
    first, last = query.start.isoformat(), query.end.isoformat()
    kept = [(dims, m) for dims, m in facts if first <= dims["date"] <= last and query.keep(dims)]
    if not query.dimensions:
        totals = [_total(name, [m for _, m in kept]) for name in query.metrics]
        return [([], totals)] if query.keep_empty or any(totals) else []
    groups: dict[tuple[str, ...], list[dict[str, float]]] = {}
    for dims, m in kept:
        groups.setdefault(tuple(dims[name] for name in query.dimensions), []).append(m)
    rows = [
        (list(key), [_total(name, group) for name in query.metrics]) for key, group in sorted(groups.items())
    ]
    rows = [row for row in rows if query.keep_empty or any(row[1])]
    for name, is_metric, descending in reversed(query.orders):  # stable: the first order wins
        index = (query.metrics if is_metric else query.dimensions).index(name)
        rows.sort(key=lambda row: (row[1] if is_metric else row[0])[index], reverse=descending)
    return rows


def _run_report(fake: FakeVendorServer, property_id: str, body: dict[str, Any]) -> Reply:
    query = _report_query(body, datetime.now(UTC).date())
    if isinstance(query, Reply):
        return query
    with fake.state.lock:
        stored = dict(fake.state.ga4_days.get(property_id, {}))
        visits = list(fake.state.ga4_visits.get(property_id, []))
        fake.state.ga4_tokens_used[property_id] += 1
        used = fake.state.ga4_tokens_used[property_id]
    rows = _report_rows(query, _facts(stored, visits))
    answer: dict[str, Any] = {
        "metricHeaders": [{"name": name, "type": METRICS[name]} for name in query.metrics],
        "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
        "kind": "analyticsData#runReport",
    }
    if query.dimensions:
        answer["dimensionHeaders"] = [{"name": name} for name in query.dimensions]
    page = rows[query.offset : query.offset + query.limit]
    if page:
        answer["rows"] = [
            {
                **(
                    {
                        "dimensionValues": [
                            {"value": _dimension_text(n, v)}
                            for n, v in zip(query.dimensions, dims, strict=True)
                        ]
                    }
                    if query.dimensions
                    else {}
                ),
                "metricValues": [
                    {"value": _metric_text(name, v)} for name, v in zip(query.metrics, values, strict=True)
                ],
            }
            for dims, values in page
        ]
    if rows:  # a zero rowCount is left out, as proto3 JSON leaves out zeros
        answer["rowCount"] = len(rows)
    if body.get("returnPropertyQuota") is True:
        answer["propertyQuota"] = _quota(used)
    return Reply(200, answer)


def _quota(used: int) -> dict[str, Any]:
    return {
        "tokensPerDay": {"consumed": 1, "remaining": max(0, TOKENS_PER_DAY - used)},
        "tokensPerHour": {"consumed": 1, "remaining": max(0, TOKENS_PER_HOUR - used)},
        "concurrentRequests": {"remaining": 10},
        "serverErrorsPerProjectPerHour": {"remaining": 10},
        "potentiallyThresholdedRequestsPerHour": {"remaining": 120},
        "tokensPerProjectPerHour": {"consumed": 1, "remaining": max(0, 14_000 - used)},
    }


def _dimension_text(name: str, value: str) -> str:
    return value.replace("-", "") if name == "date" else value  # date is YYYYMMDD


def _metric_text(name: str, value: float) -> str:
    return str(round(value)) if METRICS[name] == "TYPE_INTEGER" else repr(float(value))


# -- the fake's control of tagged visits -----------------------------------------------------------


def _number(body: dict[str, Any], *names: str, integer: bool = False) -> float | None:
    """The first of `names` present as a number >= 0 (0 when none is), None when one is malformed."""
    for name in names:
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                return None
            if integer and value != int(value):
                return None
            return float(value)
    return 0.0


def visit_from(body: dict[str, Any]) -> Ga4Visit:
    """A tagged visit from the control's body; ValueError naming what is wrong."""
    post_id, platform = body.get("postId"), body.get("platform")
    if not isinstance(post_id, str) or not post_id or not isinstance(platform, str) or not platform:
        raise ValueError("postId and platform are required strings")
    sessions = _number(body, "sessions", integer=True)
    engaged = _number(body, "engagedSessions", integer=True)
    key_events = _number(body, "conversions", "keyEvents")
    revenue = _number(body, "revenue", "totalRevenue")
    if sessions is None or engaged is None or key_events is None or revenue is None:
        raise ValueError("sessions and engagedSessions are whole numbers >= 0; conversions and revenue >= 0")
    day = str(body.get("date") or datetime.now(UTC).date().isoformat())
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"date {day!r} is not YYYY-MM-DD") from None
    return Ga4Visit(
        day=day,
        source=platform,
        medium=str(body.get("medium") or "social"),
        campaign=str(body.get("campaign") or "tidings"),
        content=post_id,
        landing_page=str(body.get("landingPage") or "/"),
        sessions=int(sessions),
        engaged_sessions=int(engaged),
        key_events=key_events,
        revenue=revenue,
    )


def _own_visits(fake: FakeVendorServer, req: Request) -> Reply:
    state = fake.state
    property_id = req.query.get("propertyId", "")
    if req.method == "DELETE":
        with state.lock:
            state.ga4_visits.pop(property_id, None)
        return Reply(204)
    if req.method == "GET":
        with state.lock:
            listed = [vars(v) for v in state.ga4_visits.get(property_id, [])]
        return Reply(200, listed)
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /ga4/_visits is not supported"})
    body = req.json()
    property_id = str(body.get("propertyId") or "") if isinstance(body, dict) else ""
    if not isinstance(body, dict) or not property_id.isdigit():
        return Reply(400, {"error": "expected {propertyId (digits), postId, platform, sessions, ...}"})
    try:
        visit = visit_from(body)
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    with state.lock:
        state.ga4_visits.setdefault(property_id, []).append(visit)
    return Reply(201, {"propertyId": property_id, **vars(visit)})


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
