"""The campaign sending routes through the API app (HTTP API v2 events, `handle`) on in-memory stores:
schedule, pause, resume and cancel with what they answer, the sends listing (planned sendAt in UTC and
local time, then the ledger's outcome, filtered and paged), and every bad request a 4xx with a code."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, NoReturn

import pytest
from api_events import call
from campaign_sending_fakes import NOW, USER, World, campaign, utc, with_recipients, world

from tidings.api.app import build_app
from tidings.api.campaign_sending import CampaignSendingServices
from tidings.campaigns.send_listing import SendListing
from tidings.models.campaigns import Recipient, Send, SendStatus, Suppression

SCHEDULE = {"startDate": "2027-03-12", "sendTime": {"hour": 9, "minute": 0}, "timezone": "Europe/London"}


def _no_posts() -> NoReturn:
    raise AssertionError("the campaign routes need no post scheduling")


class Api:
    def __init__(self) -> None:
        self.w: World = world()
        services = CampaignSendingServices(
            scheduling=self.w.scheduling, listing=SendListing(self.w.campaigns, self.w.steps, self.w.sends)
        )
        self.app = build_app(_no_posts, campaign_sending=lambda: services)

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        raw = body if body is None or isinstance(body, str) else json.dumps(body)
        campaign_id = path.split("/")[2]
        return call(
            self.app,
            method,
            path,
            body=raw,
            user=kw.pop("user", USER),
            path_parameters={"campaignId": campaign_id},
            **kw,
        )

    def sends(self, **query: Any) -> tuple[int, Any]:
        return self("GET", "/campaigns/cmp-1/sends", query={k: str(v) for k, v in query.items()})


@pytest.fixture
def api() -> Api:
    a = Api()
    campaign(a.w)
    with_recipients(
        a.w,
        Recipient("ny@example.com", timezone="America/New_York"),
        Recipient("in@example.com", timezone="Asia/Kolkata"),
        Recipient("gone@example.com", timezone="Asia/Kolkata"),
    )
    a.w.suppressions.add(Suppression(USER, "gone@example.com", "unsubscribed", NOW))
    return a


def test_scheduling_answers_the_plan_by_zone(api: Api) -> None:
    status, body = api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)

    assert status == 200
    assert body["campaign"]["status"] == "scheduled"
    assert body["campaign"]["window"] == {
        "startDate": "2027-03-12",
        "sendTime": {"hour": 9, "minute": 0},
        "timezone": "Europe/London",
        "recipientLocalTime": True,
    }
    assert (body["recipients"], body["suppressed"]) == (2, 1)
    assert body["zones"] == [
        {
            "timezone": "America/New_York",
            "recipients": 1,
            "suppressed": 0,
            "firstSendAt": "2027-03-12T14:00:00.000Z",
            "firstLocalTime": "2027-03-12T09:00:00-05:00",
        },
        {
            "timezone": "Asia/Kolkata",
            "recipients": 1,
            "suppressed": 1,
            "firstSendAt": "2027-03-12T03:30:00.000Z",
            "firstLocalTime": "2027-03-12T09:00:00+05:30",
        },
    ]
    assert body["zoneSources"] == {"recipient": 3, "crm": 0, "campaign": 0}
    assert (body["firstSendAt"], body["lastSendAt"]) == (
        "2027-03-12T03:30:00.000Z",
        "2027-03-15T13:00:00.000Z",
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ({"startDate": "2027-03-12", "timezone": "UTC"}, 422, "validation_error"),
        (SCHEDULE | {"sendTime": {"hour": 24, "minute": 0}}, 422, "validation_error"),
        (SCHEDULE | {"sendTime": {"hour": "9", "minute": 0}}, 422, "validation_error"),
        (SCHEDULE | {"startDate": "2027-13-01"}, 422, "validation_error"),
        (SCHEDULE | {"recipientLocalTime": "yes"}, 422, "validation_error"),
        (SCHEDULE | {"sendAt": "09:00"}, 422, "validation_error"),
        (SCHEDULE | {"timezone": "Europe/Atlantis"}, 422, "unknown_timezone"),
        (SCHEDULE | {"startDate": "2027-03-01"}, 422, "start_in_past"),
    ],
)
def test_a_bad_schedule_is_a_4xx_with_a_code(api: Api, body: Any, status: int, code: str) -> None:
    got, answer = api("POST", "/campaigns/cmp-1/schedule", body)

    assert (got, answer["code"]) == (status, code)
    assert set(answer) == {"code", "message", "details"}
    assert api.w.steps.steps(USER, "cmp-1") == []


def test_moves_from_a_wrong_state_or_of_an_unknown_campaign_are_refused(api: Api) -> None:
    assert api("POST", "/campaigns/cmp-1/pause")[1]["code"] == "campaign_not_running"
    assert api("POST", "/campaigns/cmp-1/resume")[1]["code"] == "campaign_not_paused"
    assert api("POST", "/campaigns/cmp-1/cancel")[0] == 409
    assert api("POST", "/campaigns/cmp-404/schedule", SCHEDULE)[1]["code"] == "campaign_not_found"
    assert api("POST", "/campaigns/cmp-1/schedule", SCHEDULE, user="another-user")[0] == 404
    assert api("GET", "/campaigns/cmp-404/sends")[0] == 404
    assert api("POST", "/campaigns/cmp..1%2F/pause")[1]["code"] == "not_found"  # not an id at all
    api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)
    assert api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)[1]["code"] == "campaign_not_draft"


def test_pause_resume_and_cancel_answer_the_campaign(api: Api) -> None:
    api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)

    paused = api("POST", "/campaigns/cmp-1/pause")
    resumed = api("POST", "/campaigns/cmp-1/resume")
    cancelled = api("POST", "/campaigns/cmp-1/cancel")

    assert (paused[0], paused[1]["status"]) == (200, "paused")
    assert (resumed[0], resumed[1]["status"]) == (200, "scheduled")
    assert cancelled[0] == 200
    assert (cancelled[1]["campaign"]["status"], cancelled[1]["skippedSends"]) == ("cancelled", 0)


def test_sends_list_the_plan_then_what_became_of_each_email(api: Api) -> None:
    assert api.sends() == (200, {"sends": [], "nextCursor": None})  # a draft plans nothing
    api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)
    step = api.w.steps.get_step(USER, "cmp-1", 1, "Asia/Kolkata")
    assert step is not None
    api.w.steps.mark_fired(USER, "cmp-1", 1, "Asia/Kolkata", step.version, step.send_at)
    planned = Send(
        USER, "cmp-1", 1, "in@example.com", SendStatus.PLANNED, step.send_at, step.local_time, "Asia/Kolkata"
    )
    api.w.sends.create_if_absent(planned)
    claimed = api.w.sends.claim(planned, step.send_at, timedelta(minutes=5))
    api.w.sends.mark_sent(claimed, "0100018e-ses-message", step.send_at + timedelta(seconds=2))

    status, body = api.sends()

    assert status == 200
    rows = [
        (s["n"], s["email"], s["status"], s["reason"], s["sendAt"], s["localTime"]) for s in body["sends"]
    ]
    assert rows == [
        (
            1,
            "gone@example.com",
            "skipped",
            "suppressed",
            "2027-03-12T03:30:00.000Z",
            "2027-03-12T09:00:00+05:30",
        ),
        (1, "in@example.com", "sent", None, "2027-03-12T03:30:00.000Z", "2027-03-12T09:00:00+05:30"),
        (1, "ny@example.com", "planned", None, "2027-03-12T14:00:00.000Z", "2027-03-12T09:00:00-05:00"),
        (
            2,
            "gone@example.com",
            "skipped",
            "suppressed",
            "2027-03-15T03:30:00.000Z",
            "2027-03-15T09:00:00+05:30",
        ),
        (2, "in@example.com", "planned", None, "2027-03-15T03:30:00.000Z", "2027-03-15T09:00:00+05:30"),
        (2, "ny@example.com", "planned", None, "2027-03-15T13:00:00.000Z", "2027-03-15T09:00:00-04:00"),
    ]
    sent = body["sends"][1]
    assert (sent["messageId"], sent["sentAt"], sent["attempts"], sent["timezone"]) == (
        "0100018e-ses-message",
        "2027-03-12T03:30:02.000Z",
        1,
        "Asia/Kolkata",
    )
    assert body["nextCursor"] is None


def test_sends_are_filtered_and_paged(api: Api) -> None:
    api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)

    first = api.sends(limit=4)[1]
    second = api.sends(limit=4, cursor=first["nextCursor"])[1]
    assert [(s["n"], s["email"]) for s in first["sends"]] == [
        (1, "gone@example.com"),
        (1, "in@example.com"),
        (1, "ny@example.com"),
        (2, "gone@example.com"),
    ]
    assert [(s["n"], s["email"]) for s in second["sends"]] == [(2, "in@example.com"), (2, "ny@example.com")]
    assert second["nextCursor"] is None

    by_email = api.sends(email=" ny@EXAMPLE.com ")[1]["sends"]  # as stored: trimmed, domain lower-cased
    assert [(s["n"], s["status"]) for s in by_email] == [(1, "planned"), (2, "planned")]
    skipped = api.sends(status="skipped")[1]["sends"]
    assert [(s["n"], s["email"]) for s in skipped] == [(1, "gone@example.com"), (2, "gone@example.com")]
    second_email = api.sends(n=2, status="planned")[1]["sends"]
    assert [s["email"] for s in second_email] == ["in@example.com", "ny@example.com"]
    assert api.sends(email="nobody@example.com")[1]["sends"] == []


def test_a_paused_campaign_shows_its_held_sends_and_a_cancelled_one_skips_them(api: Api) -> None:
    api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)
    api("POST", "/campaigns/cmp-1/pause")
    paused = api.sends(email="ny@example.com")[1]["sends"]
    api("POST", "/campaigns/cmp-1/cancel")
    cancelled = api.sends(email="ny@example.com")[1]["sends"]

    assert [(s["status"], s["paused"]) for s in paused] == [("planned", True), ("planned", True)]
    assert [(s["status"], s["reason"]) for s in cancelled] == [("skipped", "cancelled")] * 2


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"status": "bounced"}, "invalid_status"),
        ({"limit": 0}, "invalid_limit"),
        ({"limit": 101}, "invalid_limit"),
        ({"n": 0}, "invalid_n"),
        ({"n": 3}, "invalid_n"),
        ({"n": "two"}, "validation_error"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"cursor": "%%%"}, "invalid_cursor"),
        ({"cursor": "eyJuIjogMSwgImVtYWlsIjogImluQGV4YW1wbGUuY29tIn0="}, "invalid_cursor"),  # {"n": 1, ...}
        ({"email": "not-an-address"}, "invalid_email"),
    ],
)
def test_bad_listing_queries_are_a_422_with_a_code(api: Api, query: dict[str, Any], code: str) -> None:
    api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)

    status, body = api.sends(**query)

    assert (status, body["code"]) == (422, code)


def test_a_cursor_pages_only_the_campaign_it_came_from(api: Api) -> None:
    campaign(api.w, campaign_id="cmp-2")
    with_recipients(api.w, Recipient("ny@example.com", timezone="America/New_York"), campaign_id="cmp-2")
    for campaign_id in ("cmp-1", "cmp-2"):
        api("POST", f"/campaigns/{campaign_id}/schedule", SCHEDULE)
    cursor = api.sends(limit=1)[1]["nextCursor"]

    status, body = api("GET", "/campaigns/cmp-2/sends", query={"limit": "1", "cursor": cursor})

    assert (status, body["code"]) == (422, "invalid_cursor")
    assert api.sends(limit=1, cursor=cursor)[0] == 200


def test_the_first_emails_time_is_checked_against_the_clock(api: Api) -> None:
    api.w.clock.set(utc("2027-03-12T04:00"))  # 09:30 in Kolkata: its first email's time is gone

    status, body = api("POST", "/campaigns/cmp-1/schedule", SCHEDULE)

    assert (status, body["code"], body["details"]["timezone"]) == (422, "start_in_past", "Asia/Kolkata")
