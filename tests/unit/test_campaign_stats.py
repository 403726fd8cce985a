"""GET /campaigns/{id}/stats: per email and in total, what was sent, skipped and failed (with
reasons), what SES reported (null while it reported nothing), and the rates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn

import pytest
from api_events import call
from email_event_fakes import (
    CAMPAIGN,
    SAMPLE_MESSAGE_ID,
    SENT_AT,
    USER,
    ZONE,
    CampaignWorld,
    campaign_world,
    sample,
)

from tidings.api.app import build_app
from tidings.api.campaign_insights import CampaignInsightServices
from tidings.campaigns.ses_events import CampaignEmailEvents
from tidings.campaigns.stats import CampaignStats
from tidings.campaigns.suppression import SuppressionService
from tidings.campaigns.unsubscribe import UnsubscribeLinks
from tidings.models.campaigns import CampaignStep, SendStatus
from tidings.store.campaign_sends import AudienceZone


def _no_scheduling() -> NoReturn:
    raise AssertionError("these routes need no scheduling service")


def stats_api(world: CampaignWorld) -> Any:
    links = UnsubscribeLinks("unit-test-unsubscribe-secret-0123456789abcdef", "https://api.example.com")
    services = CampaignInsightServices(
        suppressions=SuppressionService(world.suppressions, lambda: links, world.clock),
        stats=CampaignStats(world.campaigns, world.steps, world.sends, world.events),
    )
    app = build_app(_no_scheduling, campaign_insights=lambda: services)

    def get(campaign_id: str = CAMPAIGN, user: str = USER) -> tuple[int, Any]:
        return call(app, "GET", f"/campaigns/{campaign_id}/stats", user=user)

    return get


def send_out(world: CampaignWorld, address: str, n: int = 1, message_id: str | None = None) -> None:
    """What the sender does for one send: sent (the move counts it on its step)."""
    _, sent = world.mark_sent(address, n, message_id)
    world.remember(sent)


def settle(world: CampaignWorld, address: str, status: str, reason: str, n: int = 1) -> None:
    send = world.send(address, n)
    if status == SendStatus.SKIPPED:
        world.sends.mark_skipped(send, reason, SENT_AT)
    else:
        world.sends.mark_failed(send, reason, SENT_AT)


@pytest.fixture
def world() -> CampaignWorld:
    return campaign_world()


def test_a_campaign_in_progress(world: CampaignWorld) -> None:
    send_out(world, "recipient@example.com", message_id=SAMPLE_MESSAGE_ID)
    send_out(world, "ann@example.com")
    settle(world, "no-client@example.com", SendStatus.SKIPPED, "unsubscribed")
    events = CampaignEmailEvents(world.events, world.suppressions, world.clock)
    for name in ("email_delivered", "email_opened", "email_clicked"):
        events.handle(sample(name))

    status, body = stats_api(world)()

    assert status == 200
    first, second = body["emails"]
    assert first == {
        "n": 1,
        "subject": "Email 1: five things to know, {{firstName}}",
        "recipients": 3,
        "sent": 2,
        "skipped": 1,
        "skippedReasons": {"unsubscribed": 1},
        "failed": 0,
        "failedReasons": {},
        "delivered": 1,
        "bounced": 0,
        "softBounced": 0,
        "complained": 0,
        "opened": 1,
        "clicked": 1,
        "rates": {
            "deliveryRate": 0.5,
            "bounceRate": 0.0,
            "complaintRate": 0.0,
            "openRate": 1.0,
            "clickRate": 1.0,
        },
    }
    # nothing of email 2 went out, and SES reported nothing of it: unknown, not 0
    assert (second["sent"], second["opened"], second["delivered"]) == (0, None, None)
    assert second["rates"] == dict.fromkeys(
        ("deliveryRate", "bounceRate", "complaintRate", "openRate", "clickRate")
    )
    totals = body["totals"]
    assert (totals["n"], totals["recipients"], totals["sent"], totals["skipped"]) == (None, 3, 2, 1)
    assert (totals["opened"], totals["clicked"]) == (1, 1)
    assert (body["campaignId"], body["name"], body["status"]) == (CAMPAIGN, "Spring nurture", "active")


def test_without_ses_events_opens_are_unknown_and_rates_of_the_sent(world: CampaignWorld) -> None:
    send_out(world, "recipient@example.com")

    _, body = stats_api(world)()

    first = body["emails"][0]
    assert (first["sent"], first["opened"], first["clicked"], first["delivered"]) == (1, None, None, None)
    assert first["rates"]["openRate"] is None


def test_reasons_of_skips_and_failures(world: CampaignWorld) -> None:
    settle(world, "recipient@example.com", SendStatus.SKIPPED, "suppressed: bounced")
    settle(world, "ann@example.com", SendStatus.FAILED, "MessageRejected: Email address is not verified")
    settle(
        world, "no-client@example.com", SendStatus.FAILED, "MessageRejected: Email address is not verified"
    )
    settle(world, "recipient@example.com", SendStatus.SKIPPED, "campaign cancelled", n=2)

    _, body = stats_api(world)()

    first, second = body["emails"]
    assert (first["skipped"], first["skippedReasons"]) == (1, {"suppressed: bounced": 1})
    assert (first["failed"], first["failedReasons"]) == (
        2,
        {"MessageRejected: Email address is not verified": 2},
    )
    assert second["skippedReasons"] == {"campaign cancelled": 1}
    assert body["totals"]["skippedReasons"] == {"suppressed: bounced": 1, "campaign cancelled": 1}


def test_addresses_left_out_at_scheduling_count_as_skipped_suppressed(world: CampaignWorld) -> None:
    step = world.steps.get_step(USER, CAMPAIGN, 1, ZONE)
    assert step is not None
    plan = [
        CampaignStep(
            user_id=USER,
            campaign_id=CAMPAIGN,
            n=n,
            timezone=ZONE,
            send_at=SENT_AT + timedelta(days=n),
            local_time=step.local_time,
            recipients=2,
            suppressed=1,
            created_at=SENT_AT,
            updated_at=SENT_AT,
        )
        for n in (1, 2)
    ]
    world.steps.replace_plan(
        USER,
        CAMPAIGN,
        plan,
        [AudienceZone(ZONE, ("recipient@example.com", "ann@example.com"), ("gone@example.com",))],
    )

    _, body = stats_api(world)()

    first = body["emails"][0]
    assert (first["recipients"], first["skipped"], first["skippedReasons"]) == (3, 1, {"suppressed": 1})


def test_a_draft_shows_its_audience_and_nothing_sent() -> None:
    world = campaign_world()
    world.steps.delete_plan(USER, CAMPAIGN)

    _, body = stats_api(world)()

    assert [(e["n"], e["recipients"], e["sent"]) for e in body["emails"]] == [(1, 3, 0), (2, 3, 0)]


def test_another_users_or_an_unknown_campaign_is_404(world: CampaignWorld) -> None:
    get = stats_api(world)

    for status, body in (get(user="someone-else"), get("cmp_unknown"), get("../etc")):
        assert status == 404, body
    assert get("cmp_unknown")[1]["code"] == "campaign_not_found"


def test_the_openapi_document_names_the_routes(world: CampaignWorld) -> None:
    links = UnsubscribeLinks("unit-test-unsubscribe-secret-0123456789abcdef", "https://api.example.com")
    services = CampaignInsightServices(
        SuppressionService(world.suppressions, lambda: links, world.clock),
        CampaignStats(world.campaigns, world.steps, world.sends, world.events),
    )
    app = build_app(_no_scheduling, campaign_insights=lambda: services)

    status, doc = call(app, "GET", "/openapi.json")

    assert status == 200
    paths = doc["paths"]
    assert {"/campaigns/{campaignId}/stats", "/suppressions", "/suppressions/{email}"} <= set(paths)
    assert set(paths["/unsubscribe/{token}"]) == {"get", "post"}
    assert "List-Unsubscribe=One-Click" in paths["/unsubscribe/{token}"]["post"]["description"]
