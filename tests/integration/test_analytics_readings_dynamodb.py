"""GET /analytics/readings through the http_api handler on DynamoDB Local: history imported from a CSV
is read back a page at a time (following nextToken) for the period asked, only the signed-in user's,
and a bad input is a 422 with its code."""

from __future__ import annotations

import json
import uuid
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from infra.local.lambda_host import LambdaHost

EVENTS = Path(__file__).resolve().parents[2] / "events" / "http_api"
START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # a Monday


def event(name: str, user: str, query: dict[str, str] | None = None, **changes: Any) -> dict[str, Any]:
    sample = deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    sample["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user
    if query is not None:
        sample["queryStringParameters"] = query
        sample["rawQueryString"] = urlencode(query)
    sample.update(changes)
    return sample


def history(rows: int) -> str:
    """Instagram images at 18:00 UTC, one a day from START, 1,000 reached, 20 + n % 5 likes."""
    lines = ["platform,publishedAt,contentType,reach,likes"]
    for n in range(rows):
        lines.append(f"instagram,{(START + timedelta(days=n)).isoformat()},image,1000,{20 + n % 5}")
    return "\n".join(lines) + "\n"


def call(host: LambdaHost, sample: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = host.invoke("http_api", sample)
    assert not result.errored, result.payload
    return result.payload["statusCode"], json.loads(result.payload["body"])


def test_imported_history_is_read_back_page_by_page(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    user = f"readings-{uuid.uuid4().hex[:10]}"
    body = json.dumps({"csv": history(60), "partial": False})
    status, imported = call(lambda_host, event("import_analytics_bad_row", user, body=body))
    assert (status, imported["imported"]) == (200, 60)

    # days 10 to 39 of the history: 30 posts, 7 a page
    period = {
        "from": (START + timedelta(days=10)).isoformat(),
        "to": (START + timedelta(days=40)).isoformat(),
    }
    rows: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        query = {**period, "limit": "7", **({"nextToken": token} if token else {})}
        status, page = call(lambda_host, event("analytics_readings", user, query))
        assert status == 200, page
        assert len(page["readings"]) <= 7
        rows += page["readings"]
        pages += 1
        token = page["nextToken"]
        if token is None:
            break

    assert pages in (5, 6)  # 30 rows, 7 a page (a last page of none when the 30th ends one)
    assert sorted(r["publishedAt"] for r in rows) == [
        (START + timedelta(days=n)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for n in range(10, 40)
    ]
    assert len({r["postId"] for r in rows}) == 30
    assert {(r["platform"], r["source"], r["contentType"], r["reach"]) for r in rows} == {
        ("instagram", "imported", "image", 1000)
    }
    assert sum(r["engagements"] for r in rows) == sum(20 + n % 5 for n in range(10, 40))

    # another user reads none of it, and cannot use this user's token
    other = f"readings-{uuid.uuid4().hex[:10]}"
    status, theirs = call(lambda_host, event("analytics_readings", other, period))
    assert (status, theirs["readings"], theirs["nextToken"]) == (200, [], None)
    _, first = call(lambda_host, event("analytics_readings", user, {**period, "limit": "1"}))
    status, refused = call(
        lambda_host, event("analytics_readings", other, {**period, "nextToken": first["nextToken"]})
    )
    assert (status, refused["code"]) == (422, "invalid_next_token")


def test_a_period_too_long_is_refused(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    query = {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}

    status, refused = call(lambda_host, event("analytics_readings", "demo-agent", query))

    assert status == 422
    assert (refused["code"], refused["details"]["maxDays"]) == ("period_too_long", 90)
