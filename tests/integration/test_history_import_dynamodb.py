"""The CSV import through the http_api handler on DynamoDB Local: the imported rows are samples the
best time to post reads (`DynamoAnalyticsRepository.samples`), `/optimal-time` says it rests on them,
a second import of the same file replaces instead of duplicating, and a bad file stores nothing."""

from __future__ import annotations

import json
import uuid
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local.lambda_host import LambdaHost
from tidings.core.platforms import Platform
from tidings.store.analytics import DynamoAnalyticsRepository

EVENTS = Path(__file__).resolve().parents[2] / "events" / "http_api"


def event(name: str, user: str, **changes: Any) -> dict[str, Any]:
    sample = deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    sample["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user
    sample.update(changes)
    return sample


def history(rows: int) -> str:
    """Instagram images at 18:00 UTC, doing better on Tuesdays."""
    start = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # a Monday
    lines = ["platform,publishedAt,contentType,reach,likes,comments,saves"]
    for n in range(rows):
        at = start + timedelta(days=n)
        likes = 90 if at.weekday() == 1 else 20
        lines.append(f"instagram,{at.isoformat()},image,1000,{likes},4,{n % 3}")
    return "\n".join(lines) + "\n"


def call(host: LambdaHost, sample: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = host.invoke("http_api", sample)
    assert not result.errored, result.payload
    return result.payload["statusCode"], json.loads(result.payload["body"])


def test_imported_history_is_what_the_best_time_rests_on(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    user = f"import-{uuid.uuid4().hex[:10]}"
    body = json.dumps({"csv": history(60), "partial": False})

    status, answer = call(lambda_host, event("import_analytics_bad_row", user, body=body))
    assert (status, answer["received"], answer["imported"], answer["rejected"]) == (200, 60, 60, 0)

    samples = DynamoAnalyticsRepository(local_aws_env["TIDINGS_TABLE_NAME"]).samples(user, Platform.INSTAGRAM)
    assert len(samples) == 60
    assert {s.content_type for s in samples} == {"image"}
    assert sorted(s.engagement for s in samples)[-1] == 90 + 4 + 2

    status, again = call(lambda_host, event("import_analytics_bad_row", user, body=body))
    assert (status, again["imported"]) == (200, 60)
    assert (
        len(DynamoAnalyticsRepository(local_aws_env["TIDINGS_TABLE_NAME"]).samples(user, Platform.INSTAGRAM))
        == 60
    )

    status, best = call(
        lambda_host,
        event(
            "optimal_time",
            user,
            rawQueryString="platform=instagram&contentType=image&timezone=UTC",
            queryStringParameters={"platform": "instagram", "contentType": "image", "timezone": "UTC"},
        ),
    )
    assert status == 200
    assert best["basedOnPosts"] == 60


def test_a_bad_row_stores_nothing_unless_partial(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    user = f"import-{uuid.uuid4().hex[:10]}"
    status, answer = call(lambda_host, event("import_analytics_bad_row", user))
    assert (status, answer["code"]) == (422, "invalid_rows")
    assert [r["row"] for r in answer["details"]["rejections"]] == [2]
    repository = DynamoAnalyticsRepository(local_aws_env["TIDINGS_TABLE_NAME"])
    assert repository.samples(user, Platform.FACEBOOK) == []

    partial = json.loads(event("import_analytics_bad_row", user)["body"]) | {"partial": True}
    status, answer = call(lambda_host, event("import_analytics_bad_row", user, body=json.dumps(partial)))
    assert (status, answer["imported"], answer["rejected"]) == (200, 2, 1)
    assert len(repository.samples(user, Platform.FACEBOOK)) == 2


def test_settings_through_the_handler(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    user = f"settings-{uuid.uuid4().hex[:10]}"
    status, before = call(lambda_host, event("get_analytics_settings", user))
    assert (status, before["utmTagging"]) == (200, False)

    status, changed = call(
        lambda_host, event("put_analytics_settings_wrong_type", user, body=json.dumps({"utmTagging": True}))
    )
    assert (status, changed["utmTagging"], changed["autoGenerateInsights"]) == (200, True, True)
    status, after = call(lambda_host, event("get_analytics_settings", user))
    assert after["utmTagging"] is True
