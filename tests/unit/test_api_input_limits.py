"""What every route refuses before reading a request: a body that is not UTF-8 text or holds a lone
surrogate, JSON nested deeper than the table can store, a token subject of no accepted form, and a
page token that is not the caller's for that list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

from tidings.api.app import build_app
from tidings.api.common import json_response
from tidings.api.limits import MAX_JSON_DEPTH
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.scheduling.service import SchedulingService
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Starter:
    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        return True


@pytest.fixture
def app() -> APIGatewayHttpResolver:
    service = SchedulingService(
        settings=Settings(table_name="t"),
        posts=InMemoryPostRepository(),
        analytics=InMemoryAnalyticsRepository(),
        starter=Starter(),
        clock=FakeClock(START),
        sleep=lambda _: None,
    )
    return build_app(lambda: service)


def post_body(content: Any = "Open house on Sunday", hours: int = 2, **extra: Any) -> str:
    when = (START + timedelta(hours=hours)).isoformat()
    return json.dumps({"content": content, "platforms": ["facebook"], "scheduledTime": when, **extra})


def with_nested(field: str, depth: int) -> str:
    """A post body whose `field` is `depth` arrays, one inside the other, around a string."""
    return post_body(**{field: "NESTED"}).replace('"NESTED"', "[" * depth + '"leaf"' + "]" * depth)


# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\udc00b", "\\ud83d x"])
def test_a_lone_surrogate_in_a_body_is_refused_with_422(app: APIGatewayHttpResolver, escape: str) -> None:
    status, body = call(app, "POST", "/posts", body=post_body().replace("Open house", escape))
    assert (status, body["code"]) == (422, "invalid_encoding")
    assert call(app, "GET", "/posts")[1]["posts"] == []


def test_a_surrogate_pair_is_one_character_and_accepted(app: APIGatewayHttpResolver) -> None:
    status, body = call(app, "POST", "/posts", body=post_body().replace("Open house", "\\ud83c\\udfe1"))
    assert status == 201
    assert body["content"].startswith("\U0001f3e1")


@pytest.mark.parametrize("raw", [b'{"content": "caf\xe9"}', b"\xff\xfe{}", b'{"content": "\xed\xa0\x80"}'])
def test_a_body_that_is_not_utf8_is_refused_with_422(app: APIGatewayHttpResolver, raw: bytes) -> None:
    status, body = call(app, "POST", "/posts", raw_body=raw)
    assert (status, body["code"]) == (422, "invalid_encoding")


def test_text_stored_with_a_lone_surrogate_is_still_answered() -> None:
    class Stored(BaseModel):
        content: str

    response = json_response(200, Stored(content="before \ud800 after"))
    assert json.loads(response.body) == {"content": "before \ufffd after"}


# -- depth ---------------------------------------------------------------------------------------


def test_a_thousand_nested_arrays_are_refused_with_a_short_422(app: APIGatewayHttpResolver) -> None:
    status, body = call(app, "POST", "/posts", body=with_nested("hashtags", 1000))
    assert (status, body["code"]) == (422, "too_deep")
    assert body["details"] == {"limit": MAX_JSON_DEPTH, "depth": 1001}
    assert len(json.dumps(body)) < 300


def test_the_depth_limit_counts_arrays_and_objects_not_brackets_in_text(app: APIGatewayHttpResolver) -> None:
    at_limit = call(app, "POST", "/posts", body=with_nested("extra", MAX_JSON_DEPTH - 1))
    assert at_limit[1]["code"] == "validation_error"  # read, and refused by the schema
    over = call(app, "POST", "/posts", body=with_nested("extra", MAX_JSON_DEPTH))
    assert over[1]["code"] == "too_deep"
    brackets = call(app, "POST", "/posts", body=post_body(content='[[[{{"\\"' * 40))
    assert brackets[0] == 201


# -- subject -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sub", ["a#b", "USER#x#POSTS", "nul\x00", "x" * 1025, "x" * 65, "-lead", "sp ace"])
def test_a_subject_of_no_accepted_form_is_refused_with_401(app: APIGatewayHttpResolver, sub: str) -> None:
    status, body = call(app, "GET", "/posts", user=sub)
    assert (status, body["code"]) == (401, "invalid_subject")


@pytest.mark.parametrize("sub", ["7d0f6a2c-3b1e-4c55-9a8e-2f1d0c9b8a7e", "demo-agent", "u1", "a.b_c"])
def test_cognito_and_local_subjects_are_users(app: APIGatewayHttpResolver, sub: str) -> None:
    assert call(app, "GET", "/posts", user=sub)[0] == 200


# -- page tokens ---------------------------------------------------------------------------------


def test_a_page_token_works_only_for_the_user_it_was_issued_to(app: APIGatewayHttpResolver) -> None:
    for hours in (2, 3, 4):
        assert call(app, "POST", "/posts", body=post_body(hours=hours), user="alice")[0] == 201
    first = call(app, "GET", "/posts", query={"limit": "1"}, user="alice")[1]
    token = first["nextToken"]
    assert token
    assert "alice" not in token

    status, body = call(app, "GET", "/posts", query={"nextToken": token}, user="mallory")
    assert (status, body["code"]) == (422, "invalid_next_token")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, body = call(app, "GET", "/posts", query={"nextToken": forged}, user="alice")
    assert (status, body["code"]) == (422, "invalid_next_token")

    rest = call(app, "GET", "/posts", query={"nextToken": token}, user="alice")[1]
    assert len(rest["posts"]) == 2
