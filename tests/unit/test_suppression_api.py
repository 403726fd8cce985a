"""The public unsubscribe routes (the link's GET, RFC 8058's one-click POST), called without a bearer
token, and the suppression list's routes: every bad token or request is a 4xx with a code."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

import pytest
from api_events import call

from tidings.api.app import build_app
from tidings.api.campaign_insights import CampaignInsightServices
from tidings.campaigns.stats import CampaignStats
from tidings.campaigns.suppression import SuppressionService
from tidings.campaigns.unsubscribe import UnsubscribeLinks
from tidings.core.clock import FakeClock
from tidings.models.campaigns import Suppression, SuppressionReason
from tidings.store.memory.campaign_events import campaign_event_stores
from tidings.store.memory.campaigns import InMemoryCampaignRepository
from tidings.store.memory.suppressions import InMemorySuppressionRepository

NOW = datetime(2027, 4, 2, 15, 30, tzinfo=UTC)
USER = "agent-7"
LINKS = UnsubscribeLinks("unit-test-unsubscribe-secret-0123456789abcdef", "https://api.example.com")


def _no_scheduling() -> NoReturn:
    raise AssertionError("these routes need no scheduling service")


class Api:
    def __init__(self, limit: int = 100) -> None:
        self.clock = FakeClock(NOW)
        self.repo = InMemorySuppressionRepository()
        steps, sends, events = campaign_event_stores()
        services = CampaignInsightServices(
            suppressions=SuppressionService(self.repo, lambda: LINKS, self.clock, limit=limit),
            stats=CampaignStats(InMemoryCampaignRepository(), steps, sends, events),
        )
        self.app = build_app(_no_scheduling, campaign_insights=lambda: services)

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        raw = body if body is None or isinstance(body, str) else json.dumps(body)
        return call(self.app, method, path, body=raw, user=USER, **kw)

    def public(
        self,
        method: str,
        token: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "text/html,application/xhtml+xml",
        base64_body: bool = False,
    ) -> dict[str, Any]:
        """A request as API Gateway passes a route without an authorizer: no JWT claims at all."""
        from tidings.api.app import handle

        path = f"/unsubscribe/{token}"
        headers = {"accept": accept, "user-agent": "Mail/1.0"}
        if content_type:
            headers["content-type"] = content_type
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{method} /unsubscribe/{{token}}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "http": {"method": method, "path": path, "sourceIp": "198.51.100.7"},
                "requestId": "r1",
                "routeKey": f"{method} /unsubscribe/{{token}}",
                "stage": "$default",
            },
            "pathParameters": {"token": token},
            "isBase64Encoded": base64_body,
        }
        if body is not None:
            event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
        return handle(self.app, event, None)


@pytest.fixture
def api() -> Api:
    return Api()


TOKEN = LINKS.token(USER, "Maya@Example.com", "cmp_1")
ONE_CLICK = b"List-Unsubscribe=One-Click"


def one_click(api: Api) -> dict[str, Any]:
    """RFC 8058's one-click POST of the link, form-encoded, from a browser."""
    return api.public("POST", TOKEN, body=ONE_CLICK, content_type="application/x-www-form-urlencoded")


FORM = re.compile(r'<form method="post"><input type="hidden" name="([^"]+)" value="([^"]+)">')


def test_following_the_link_asks_to_confirm_and_suppresses_nothing(api: Api) -> None:
    answer = api.public("GET", TOKEN)  # a person, or a mail scanner fetching every link of the email

    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/html")
    assert "Unsubscribe from these emails?" in answer["body"]
    assert "m•••@example.com" in answer["body"]
    assert "maya@" not in answer["body"].lower()
    assert not api.repo.is_suppressed(USER, "maya@example.com")
    assert FORM.search(answer["body"]) is not None


def test_the_pages_button_posts_the_one_click_body_and_unsubscribes(api: Api) -> None:
    page = api.public("GET", TOKEN)
    found = FORM.search(page["body"])
    assert found is not None
    body = urlencode({found.group(1): found.group(2)}).encode()  # what the browser submits

    answer = api.public("POST", TOKEN, body=body, content_type="application/x-www-form-urlencoded")

    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/html")
    assert "You are unsubscribed" in answer["body"]
    entry = api.repo.get(USER, "maya@example.com")
    assert entry == Suppression(USER, "maya@example.com", SuppressionReason.UNSUBSCRIBED, NOW, "cmp_1")
    again = api.public("GET", TOKEN)
    assert "You are unsubscribed" in again["body"]
    assert FORM.search(again["body"]) is None  # nothing left to confirm


def test_unsubscribing_again_changes_nothing(api: Api) -> None:
    one_click(api)
    api.clock.set(datetime(2027, 5, 1, tzinfo=UTC))

    again = api.public("GET", TOKEN)
    posted = one_click(api)

    assert (again["statusCode"], posted["statusCode"]) == (200, 200)
    assert api.repo.count(USER) == 1
    assert api.repo.get(USER, "maya@example.com").at == NOW  # type: ignore[union-attr]


def test_a_json_client_gets_json(api: Api) -> None:
    before = api.public("GET", TOKEN, accept="application/json")
    one_click(api)
    after = api.public("GET", TOKEN, accept="application/json")

    assert (before["statusCode"], after["statusCode"]) == (200, 200)
    assert json.loads(before["body"]) == {"unsubscribed": False, "email": "m•••@example.com"}
    assert json.loads(after["body"]) == {"unsubscribed": True, "email": "m•••@example.com"}


def test_one_click_post_form_encoded(api: Api) -> None:
    answer = api.public(
        "POST", TOKEN, body=ONE_CLICK, content_type="application/x-www-form-urlencoded", accept="*/*"
    )

    assert answer["statusCode"] == 200
    assert "Location" not in answer.get("headers", {})
    assert json.loads(answer["body"])["unsubscribed"] is True
    assert api.repo.is_suppressed(USER, "maya@example.com")


def test_one_click_post_multipart(api: Api) -> None:
    boundary = "----tidings-7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        "One-Click\r\n"
        f"--{boundary}--\r\n"
    ).encode()

    answer = api.public(
        "POST", TOKEN, body=body, content_type=f"multipart/form-data; boundary={boundary}", base64_body=True
    )

    assert answer["statusCode"] == 200
    assert api.repo.is_suppressed(USER, "maya@example.com")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (None, None),
        (b"", "application/x-www-form-urlencoded"),
        (b"List-Unsubscribe=Yes", "application/x-www-form-urlencoded"),
        (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
        (
            b'--x\r\nContent-Disposition: form-data; name="other"\r\n\r\nOne-Click\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        ),
    ],
)
def test_a_post_without_the_one_click_body_is_refused(
    api: Api, body: bytes | None, content_type: str | None
) -> None:
    answer = api.public("POST", TOKEN, body=body, content_type=content_type)

    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["code"] == "one_click_body_required"
    assert api.repo.count(USER) == 0


def _altered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


@pytest.mark.parametrize(
    "bad",
    [
        _altered(TOKEN),
        TOKEN[:-3],
        TOKEN + "AA",
        UnsubscribeLinks("another-deployment-secret-0123456789abcdef", "https://x").token(
            USER, "a@b.co", "c"
        ),
        "not-a-token",
        "x" * 1500,
    ],
)
def test_bad_tokens_are_404_on_both_methods(api: Api, bad: str) -> None:
    page = api.public("GET", bad)
    as_json = api.public("GET", bad, accept="application/json")
    posted = api.public("POST", bad, body=ONE_CLICK, content_type="application/x-www-form-urlencoded")

    assert page["statusCode"] == 404
    assert "unsubscribe_link_invalid" in page["body"]
    assert page["headers"]["Content-Type"].startswith("text/html")
    for answer in (as_json, posted):
        assert answer["statusCode"] == 404
        assert json.loads(answer["body"])["code"] == "unsubscribe_link_invalid"
    assert api.repo.count(USER) == 0


def test_the_list_pages_by_address_with_its_total_and_limit(api: Api) -> None:
    for address in ("c@example.com", "a@example.com", "b@example.com"):
        assert api("POST", "/suppressions", {"email": address})[0] == 201

    status, first = api("GET", "/suppressions", query={"limit": "2"})
    _, second = api("GET", "/suppressions", query={"limit": "2", "cursor": first["cursor"]})

    assert status == 200
    assert [s["email"] for s in first["suppressions"]] == ["a@example.com", "b@example.com"]
    assert [s["email"] for s in second["suppressions"]] == ["c@example.com"]
    assert (first["total"], first["limit"]) == (3, 100)
    assert first["suppressions"][0] == {
        "email": "a@example.com",
        "reason": "manual",
        "at": "2027-04-02T15:30:00.000Z",
        "campaignId": None,
        "detail": None,
    }


def test_adding_an_address_again_keeps_the_first_entry(api: Api) -> None:
    one_click(api)

    status, body = api("POST", "/suppressions", {"email": " MAYA@example.com "})

    assert status == 200
    assert (body["created"], body["reason"], body["campaignId"]) == (False, "unsubscribed", "cmp_1")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "not-an-address"}, 422, "invalid_email"),
        ({"email": ""}, 422, "invalid_email"),
        ({"email": "a@b"}, 422, "invalid_email"),
        ({}, 422, "validation_error"),
        ({"email": "a@example.com", "extra": 1}, 422, "validation_error"),
        ({"email": "x" * 300 + "@example.com"}, 422, "validation_error"),
        ("{not json", 400, "malformed_json"),
    ],
)
def test_bad_additions_are_refused(api: Api, body: Any, status: int, code: str) -> None:
    answer_status, answer = api("POST", "/suppressions", body)

    assert (answer_status, answer["code"]) == (status, code)
    assert api.repo.count(USER) == 0


def test_manual_additions_stop_at_the_limit_but_unsubscribes_do_not() -> None:
    api = Api(limit=1)
    api("POST", "/suppressions", {"email": "a@example.com"})

    status, body = api("POST", "/suppressions", {"email": "b@example.com"})
    link = one_click(api)

    assert (status, body["code"]) == (409, "suppression_list_full")
    assert link["statusCode"] == 200
    assert api.repo.count(USER) == 2


def test_removing_an_address(api: Api) -> None:
    one_click(api)
    encoded = "/suppressions/" + quote("Maya@Example.com")  # as a client encodes it: Maya%40Example.com

    status, body = api("DELETE", encoded, path_parameters={"email": "Maya@Example.com"})
    again, missing = api(
        "DELETE", "/suppressions/maya@example.com", path_parameters={"email": "maya@example.com"}
    )
    too_long, _ = api("DELETE", "/suppressions/" + "x" * 300, path_parameters={"email": "x" * 300})

    assert (status, body["email"], body["reason"]) == (200, "maya@example.com", "unsubscribed")
    assert (again, missing["code"]) == (404, "suppression_not_found")
    assert too_long == 404
    assert not api.repo.is_suppressed(USER, "maya@example.com")


def test_bad_list_requests_are_4xx(api: Api) -> None:
    for query, code in (
        ({"limit": "0"}, "validation_error"),
        ({"limit": "101"}, "validation_error"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"cursor": "%%%"}, "invalid_cursor"),
    ):
        status, body = api("GET", "/suppressions", query=query)
        assert 400 <= status < 500
        assert body["code"] == code, query


def test_another_users_cursor_is_refused(api: Api) -> None:
    for address in ("a@example.com", "b@example.com"):
        api("POST", "/suppressions", {"email": address})
    _, page = api("GET", "/suppressions", query={"limit": "1"})

    status, body = call(
        api.app, "GET", "/suppressions", query={"cursor": page["cursor"]}, user="someone-else"
    )

    assert (status, body["code"]) == (422, "invalid_cursor")


def test_the_list_needs_a_user(api: Api) -> None:
    from tidings.api.app import handle

    event = {
        "version": "2.0",
        "rawPath": "/suppressions",
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/suppressions"}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    answer = handle(api.app, event, None)

    assert answer["statusCode"] == 401
