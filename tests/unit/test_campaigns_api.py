"""The campaign routes through the API app (HTTP API v2 events, `handle`) on the in-memory campaign
store and the fake CRM: generate, list, read, change, delete and preview, and every bad request a 4xx
with `{code, message, details}`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any, NoReturn

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from campaign_fakes import CampaignWorld, campaign_world
from integration_fakes import USER

from tidings.api.app import build_app
from tidings.models.campaigns import CampaignStatus


def _no_scheduling() -> NoReturn:
    raise AssertionError("the campaign routes need no scheduling service")


class Api:
    def __init__(self) -> None:
        self.w: CampaignWorld = campaign_world()
        self.app: APIGatewayHttpResolver = build_app(_no_scheduling, campaigns=lambda: self.w.service)

    def __call__(
        self, method: str, path: str, body: Any = None, user: str = USER, **kw: Any
    ) -> tuple[int, Any]:
        raw = body if body is None or isinstance(body, str) else json.dumps(body)
        return call(self.app, method, path, body=raw, user=user, **kw)

    def one(self, method: str, campaign_id: str, suffix: str = "", **kw: Any) -> tuple[int, Any]:
        params = {"campaignId": campaign_id, **kw.pop("path_parameters", {})}
        return self(method, f"/campaigns/{campaign_id}{suffix}", path_parameters=params, **kw)

    def create(self, **body: Any) -> dict[str, Any]:
        status, created = self("POST", "/campaigns", {"name": "Spring nurture", **body})
        assert status == 201, created
        return created  # type: ignore[no-any-return]


@pytest.fixture
def api() -> Api:
    return Api()


def test_a_campaign_is_generated_in_draft_with_its_emails_duration_and_recommendations(api: Api) -> None:
    status, body = api(
        "POST",
        "/campaigns",
        {
            "name": "Harbour listing",
            "template": "listing-promotion",
            "targetAudience": "buyers moving to the coast",
            "customization": {
                "tone": "friendly",
                "includeImages": False,
                "brandVoice": {"name": "Harbour Homes"},
            },
            "delayDays": 4,
            "details": {"address": "12 Harbour Lane", "price": 450000, "currency": "$", "bedrooms": 3},
            "recipients": [
                {"email": "maya@harbour.example", "firstName": "Maya", "timezone": "Europe/Lisbon"}
            ],
        },
    )

    assert status == 201
    assert body["status"] == "draft"
    assert (body["template"], body["recipientCount"], body["autoSchedule"]) == ("listing-promotion", 1, False)
    assert [e["role"] for e in body["emails"]] == [
        "introduction",
        "value",
        "social_proof",
        "value",
        "call_to_action",
    ]
    assert [e["delay"] for e in body["emails"]] == [0, 4, 4, 4, 4]
    assert set(body["emails"][0]) == {"n", "role", "subject", "preheader", "text", "html", "delay"}
    assert body["estimatedDuration"] == 16
    assert body["customization"] == {
        "tone": "friendly",
        "includeImages": False,
        "brandVoice": {"name": "Harbour Homes"},
    }
    postal = next(r for r in body["recommendations"] if r["code"] == "missing_postal_address")
    assert set(postal) == {"code", "message"}  # about no email in particular: no emailNumbers
    assert "CAN-SPAM" in postal["message"]
    assert (body["window"], body["source"], body["version"]) == (None, "template", 1)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ({"name": "x", "emailCount": "five"}, 422, "validation_error"),
        ({"name": "x", "unknownField": 1}, 422, "validation_error"),
        ({"template": "nurture"}, 422, "validation_error"),
        ({"name": "x", "template": "newsletter"}, 422, "unknown_template"),
        ({"name": "x", "template": "custom", "emailCount": 0, "topic": "t"}, 422, "invalid_email_count"),
        ({"name": "x", "delayUnit": "seconds"}, 422, "seconds_delays_not_allowed"),
        ({"name": "x", "topic": "for {{ nickname }}"}, 422, "unknown_variables"),
        ({"name": "x", "topic": "for {% for %}"}, 422, "template_invalid"),
        ({"name": "x", "template": "market-update"}, 422, "missing_details"),
        ({"name": "x", "customization": {"tone": "grumpy"}}, 422, "invalid_campaign"),
        ({"name": "x", "details": {"address": "${parameters.address}"}}, 422, "invalid_details"),
        ({"name": "x", "recipients": [{"email": "maya@harbour"}]}, 422, "invalid_recipients"),
        (
            {"name": "x", "recipients": [{"email": "a@b.example", "timezone": "Nowhere/Else"}]},
            422,
            "invalid_recipients",
        ),
        ({"name": "x", "segment": {"integrationId": "int_missing"}}, 404, "integration_not_found"),
        ({"name": "x", "useModel": True}, 422, "model_not_configured"),
    ],
)
def test_bad_requests_are_refused_with_a_code(api: Api, body: Any, status: int, code: str) -> None:
    got_status, got = api("POST", "/campaigns", body)

    assert (got_status, got["code"]) == (status, code), got
    assert set(got) == {"code", "message", "details"}
    assert api("GET", "/campaigns")[1]["campaigns"] == []


def test_ten_thousand_recipients_fit_in_one_request_and_more_are_refused(api: Api) -> None:
    many = [{"email": f"client{i:05d}@harbour.example", "firstName": f"Client {i}"} for i in range(10_000)]

    created = api.create(recipients=many)
    status, too_many = api(
        "POST", "/campaigns", {"name": "x", "recipients": [*many, {"email": "more@h.example"}]}
    )
    huge_status, huge = api("POST", "/campaigns", "{" + " " * (5 * 1024 * 1024) + "}")

    assert created["recipientCount"] == 10_000
    assert (status, too_many["code"], too_many["details"]) == (
        422,
        "too_many_recipients",
        {"limit": 10_000, "count": 10_001},
    )
    assert (huge_status, huge["code"]) == (413, "payload_too_large")


def test_listing_by_status_with_a_cursor(api: Api) -> None:
    ids = []
    for i in range(3):
        ids.append(api.create(name=f"c{i}")["campaignId"])
        api.w.world.base.clock.advance(timedelta(seconds=1))
    stored = api.w.repository.get(USER, ids[1])
    assert stored is not None
    api.w.repository.update(replace(stored, status=CampaignStatus.PAUSED), stored.version)

    first_status, first = api("GET", "/campaigns", query={"limit": "2"})
    _, rest = api("GET", "/campaigns", query={"limit": "2", "cursor": first["nextCursor"]})
    _, paused = api("GET", "/campaigns", query={"status": "paused"})

    assert first_status == 200
    assert [c["name"] for c in first["campaigns"] + rest["campaigns"]] == ["c2", "c1", "c0"]
    assert rest["nextCursor"] is None
    assert [c["campaignId"] for c in paused["campaigns"]] == [ids[1]]
    assert set(first["campaigns"][0]) >= {"emailCount", "recipientCount", "estimatedDuration", "status"}
    assert "emails" not in first["campaigns"][0]
    for query, code in (
        ({"status": "sleeping"}, "invalid_status"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "many"}, "validation_error"),
        ({"cursor": "bm9wZQ"}, "invalid_cursor"),
        ({"status": "draft", "cursor": first["nextCursor"]}, "invalid_cursor"),
    ):
        status, body = api("GET", "/campaigns", query=query)
        assert (status, body["code"]) == (422, code), query


def test_one_campaign_is_its_owners_alone(api: Api) -> None:
    campaign_id = api.create()["campaignId"]

    mine = api.one("GET", campaign_id)
    theirs = api.one("GET", campaign_id, user="someone-else")
    unknown = api.one("GET", "0" * 32)
    bad_id = api.one("GET", "../etc")

    assert (mine[0], mine[1]["campaignId"]) == (200, campaign_id)
    assert (theirs[0], theirs[1]["code"]) == (404, "campaign_not_found")
    assert (unknown[0], unknown[1]["code"]) == (404, "campaign_not_found")
    assert bad_id[0] == 404


def test_patch_then_delete(api: Api) -> None:
    campaign_id = api.create()["campaignId"]

    status, changed = api.one(
        "PATCH",
        campaign_id,
        body={
            "name": "Renamed",
            "emails": [{"n": 2, "subject": "A better subject", "delay": 5}],
            "recipients": [{"email": "maya@harbour.example"}],
            "version": 1,
        },
    )
    stale_status, stale = api.one("PATCH", campaign_id, body={"name": "Late", "version": 1})
    bad_status, bad = api.one("PATCH", campaign_id, body={"emails": [{"n": 1, "html": "<p>no link</p>"}]})
    wrong_type = api.one("PATCH", campaign_id, body={"emails": [{"n": "one"}]})
    _, same_day = api.one("PATCH", campaign_id, body={"emails": [{"n": 3, "delay": 0}]})
    deleted = api.one("DELETE", campaign_id)
    gone = api.one("GET", campaign_id)

    assert status == 200
    assert (changed["name"], changed["emails"][1]["subject"], changed["emails"][1]["delay"]) == (
        "Renamed",
        "A better subject",
        5,
    )
    assert (changed["recipientCount"], changed["version"]) == (1, 2)
    assert (stale_status, stale["code"]) == (409, "campaign_busy")
    assert (bad_status, bad["code"]) == (422, "unsubscribe_missing")
    assert (wrong_type[0], wrong_type[1]["code"]) == (422, "validation_error")
    advice = next(r for r in same_day["recommendations"] if r["code"] == "same_day_emails")
    assert advice["emailNumbers"] == [3]
    assert deleted == (204, None)
    assert (gone[0], gone[1]["code"]) == (404, "campaign_not_found")


def test_a_scheduled_campaign_is_neither_changed_nor_deleted(api: Api) -> None:
    campaign_id = api.create()["campaignId"]
    stored = api.w.repository.get(USER, campaign_id)
    assert stored is not None
    api.w.repository.update(replace(stored, status=CampaignStatus.SCHEDULED), stored.version)

    patch = api.one("PATCH", campaign_id, body={"name": "Later"})
    delete = api.one("DELETE", campaign_id)

    assert (patch[0], patch[1]["code"], patch[1]["details"]["status"]) == (
        409,
        "campaign_not_editable",
        "scheduled",
    )
    assert (delete[0], delete[1]["code"]) == (409, "campaign_not_deletable")


def test_preview_one_email_for_one_recipient(api: Api) -> None:
    campaign_id = api.create(recipients=[{"email": "maya@harbour.example", "firstName": "Maya"}])[
        "campaignId"
    ]

    def preview(n: str, **query: str) -> tuple[int, Any]:
        return api.one(
            "POST", campaign_id, f"/emails/{n}/preview", query=query or None, path_parameters={"n": n}
        )

    status, body = preview("1", email="maya@harbour.example")

    assert status == 200
    assert body["text"].startswith("Hello Maya,")
    assert body["recipient"] == {
        "email": "maya@harbour.example",
        "clientId": None,
        "integrationId": None,
        "source": "list",
    }
    assert (body["n"], body["role"]) == (1, "introduction")
    assert body["unsubscribeUrl"] == "https://unsubscribe.invalid/preview-only"
    assert body["unsubscribeUrl"] in body["html"]
    for n, query, status_code, code in (
        ("9", {}, 404, "email_not_found"),
        ("one", {}, 404, "email_not_found"),
        ("1", {"email": "nobody@harbour.example"}, 404, "recipient_not_found"),
        ("1", {"email": "not-an-address"}, 422, "invalid_email"),
        ("1", {"clientId": "501"}, 409, "no_crm_connected"),
        ("1", {"clientId": "501", "email": "maya@harbour.example"}, 422, "one_recipient"),
    ):
        got_status, got = preview(n, **query)
        assert (got_status, got["code"]) == (status_code, code), (n, query)


def test_the_openapi_document_describes_the_campaign_routes(api: Api) -> None:
    status, document = api("GET", "/openapi.json")

    assert status == 200
    assert {"/campaigns", "/campaigns/{campaignId}", "/campaigns/{campaignId}/emails/{n}/preview"} <= set(
        document["paths"]
    )
    assert set(document["paths"]["/campaigns/{campaignId}"]) == {"get", "patch", "delete"}
