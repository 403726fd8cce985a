"""What Facebook Pages and Instagram share: the Meta Graph API's error body and rate-limit headers.

Sources: Graph API "Handling Errors" (developers.facebook.com/docs/graph-api/guides/error-handling):
the body is {"error": {"message", "type", "code", "error_subcode", "error_user_msg", "is_transient",
"fbtrace_id"}}; 1 (API Unknown) and 2 (API Service) are temporary, 4, 17, 32, 613 and 341 are
throttling, 190 and 102 mean the token expired or is invalid. Graph API "Rate Limits"
(developers.facebook.com/docs/graph-api/overview/rate-limiting): 80001-80014 are Business Use Case
throttles; `X-Business-Use-Case-Usage` carries `estimated_time_to_regain_access` in minutes per
business use case; `X-App-Usage` carries percentages only. A node that was deleted (or that the token
may not see) answers code 100 with subcode 33, "Unsupported get request. Object with ID ... does not
exist". Insights edges (Page Insights, IG Media Insights, Video Insights references) answer
{"data": [{"name", "period", "values": [{"value"}], "title", "description", "id"}]}; newer IG
metrics may carry {"total_value": {"value"}} instead of `values`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import call_error, json_body, parse_retry_after, status_kind

TRANSIENT_CODES = frozenset({1, 2})
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80001, 80015)})
AUTH_CODES = frozenset({102, 190})
MISSING_CODE, MISSING_SUBCODE = 100, 33
INVALID_PARAMETER = 100  # also an insights metric the node does not have (or that was retired)
PERMISSION_CODES = frozenset({10, 200})  # a permission the token lacks; IG: too few viewers for insights


def graph_error(response: httpx.Response, *, token: str, now: datetime) -> PlatformCallError:
    """Classify a failed Graph API response."""
    error = json_body(response).get("error")
    status = response.status_code
    if not isinstance(error, dict):
        return call_error(
            status_kind(status),
            f"http_{status}",
            f"Graph API answered HTTP {status}",
            token=token,
            status=status,
        )
    code = graph_int(error.get("code"))
    subcode = graph_int(error.get("error_subcode"))
    message = str(error.get("error_user_msg") or error.get("message") or f"Graph API error {code}")
    code_text = f"{code}/{subcode}" if subcode else str(code)
    if code in THROTTLE_CODES:
        return call_error(
            ErrorKind.RATE_LIMITED,
            code_text,
            message,
            token=token,
            status=status,
            retry_after=graph_retry_after(response, now),
        )
    if code in AUTH_CODES or (code is None and status == 401):
        return call_error(ErrorKind.AUTH_EXPIRED, code_text, message, token=token, status=status)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
        kind = ErrorKind.UNKNOWN_OUTCOME if status == 504 else ErrorKind.RETRYABLE
        return call_error(kind, code_text, message, token=token, status=status)
    if status == 429:
        return call_error(
            ErrorKind.RATE_LIMITED,
            code_text,
            message,
            token=token,
            status=status,
            retry_after=graph_retry_after(response, now),
        )
    return call_error(ErrorKind.PERMANENT, code_text, message, token=token, status=status)


def graph_codes(response: httpx.Response) -> tuple[int | None, int | None]:
    """The error's code and subcode (None when the body carries no Graph error)."""
    error = json_body(response).get("error")
    if not isinstance(error, dict):
        return None, None
    return graph_int(error.get("code")), graph_int(error.get("error_subcode"))


def missing_object(response: httpx.Response) -> bool:
    """Whether a failed read says the node does not exist (deleted, or never visible to this token)."""
    code, subcode = graph_codes(response)
    return code == MISSING_CODE and subcode == MISSING_SUBCODE


def insight_values(body: dict[str, Any]) -> dict[str, int]:
    """The lifetime value of each metric an insights edge answered, by metric name."""
    out: dict[str, int] = {}
    data = body.get("data")
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        values = entry.get("values")
        total_value = entry.get("total_value")
        if isinstance(values, list) and values and isinstance(values[-1], dict):
            value = values[-1].get("value")
        elif isinstance(total_value, dict):
            value = total_value.get("value")
        else:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[entry["name"]] = value
    return out


def graph_retry_after(response: httpx.Response, now: datetime) -> float | None:
    """When to retry a throttled call: Retry-After if sent, else the longest
    `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage."""
    explicit = parse_retry_after(response.headers.get("Retry-After"), now)
    if explicit is not None:
        return explicit
    minutes = [m for m in _regain_minutes(response.headers.get("X-Business-Use-Case-Usage")) if m > 0]
    return max(minutes) * 60.0 if minutes else None


def _regain_minutes(header: str | None) -> Iterator[float]:
    if not header:
        return
    try:
        usage: Any = json.loads(header)
    except json.JSONDecodeError:
        return
    if not isinstance(usage, dict):
        return
    for entries in usage.values():
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                value = entry.get("estimated_time_to_regain_access")
                if isinstance(value, int | float):
                    yield float(value)


def graph_int(value: Any) -> int | None:
    """A Graph error field as an integer (codes come as numbers, sometimes as digit strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_graph_time(value: Any) -> datetime | None:
    """Graph timestamps look like 2026-01-05T09:00:00+0000."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
