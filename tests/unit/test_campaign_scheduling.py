"""Scheduling a campaign: who gets which email when (each recipient at 09:00 in their own zone), which
addresses are left out, a CRM segment read into recipients, and pause, resume and cancel moving the
steps, each refused from a wrong state with a code that names it. In-memory stores, a FakeClock."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from campaign_sending_fakes import NOW, START, USER, World, campaign, nine, utc, with_recipients, world

from tidings.core.errors import TidingsError
from tidings.models.campaigns import (
    CampaignStatus,
    Recipient,
    Segment,
    Send,
    SendStatus,
    SendWindow,
    StepState,
    Suppression,
)
from tidings.models.integrations import Integration, SyncedRecord


def code_of(call: Any) -> tuple[int, str]:
    with pytest.raises(TidingsError) as caught:
        call()
    return caught.value.status, caught.value.code


def test_each_recipient_gets_each_email_at_nine_in_their_own_zone() -> None:
    # Given recipients with a zone of their own, one whose CRM record names a zone, and one with neither
    w = world()
    campaign(w)
    with_recipients(
        w,
        Recipient("ny@example.com", timezone="America/New_York"),
        Recipient("in@example.com", timezone="Asia/Kolkata"),
        Recipient("crm@example.com", client_id="c-42"),
        Recipient("plain@example.com"),
    )
    w.zones.known["c-42"] = "America/New_York"

    # When the campaign is scheduled for 09:00 from Friday 12 March, its second email 3 days later
    plan = w.scheduling.schedule(USER, "cmp-1", nine("Europe/London"))

    # Then New York's second email crosses the change to EDT and still goes out at 09:00 local
    steps = {(s.n, s.timezone): s for s in w.steps.steps(USER, "cmp-1")}
    assert sorted(steps) == [
        (1, "America/New_York"),
        (1, "Asia/Kolkata"),
        (1, "Europe/London"),
        (2, "America/New_York"),
        (2, "Asia/Kolkata"),
        (2, "Europe/London"),
    ]
    assert steps[(1, "America/New_York")].send_at == utc("2027-03-12T14:00")
    assert steps[(2, "America/New_York")].send_at == utc("2027-03-15T13:00")
    assert steps[(2, "America/New_York")].local_time == "2027-03-15T09:00:00-04:00"
    assert steps[(1, "Asia/Kolkata")].send_at == utc("2027-03-12T03:30")
    assert steps[(1, "Europe/London")].send_at == utc("2027-03-12T09:00")
    assert steps[(1, "America/New_York")].recipients == 2
    assert all(s.state == StepState.WAITING and s.version == 1 for s in steps.values())
    assert w.steps.zone_recipients(USER, "cmp-1", "America/New_York") == ["crm@example.com", "ny@example.com"]
    # only the recipient with a client id and no zone of their own was looked up in the CRM
    assert w.zones.asked == [(["c-42"], None)]

    stored = w.campaigns.get(USER, "cmp-1")
    assert stored is not None
    assert stored.status == CampaignStatus.SCHEDULED
    assert stored.window is not None
    assert stored.window.timezone == "Europe/London"
    assert (plan.recipients, plan.suppressed) == (4, 0)
    assert plan.zone_sources == {"recipient": 2, "crm": 1, "campaign": 1}
    assert plan.first_send_at == utc("2027-03-12T03:30")  # Kolkata's 09:00 comes first
    assert plan.last_send_at == utc("2027-03-15T13:00")
    assert [(z.timezone, z.recipients) for z in plan.zones] == [
        ("America/New_York", 2),
        ("Asia/Kolkata", 1),
        ("Europe/London", 1),
    ]


def test_without_recipient_local_time_everybody_gets_the_campaigns_zone() -> None:
    w = world()
    campaign(w)
    with_recipients(
        w,
        Recipient("ny@example.com", timezone="America/New_York"),
        Recipient("c@example.com", client_id="c-1"),
    )

    plan = w.scheduling.schedule(USER, "cmp-1", nine("Australia/Sydney", local=False))

    assert {(s.n, s.timezone) for s in w.steps.steps(USER, "cmp-1")} == {
        (1, "Australia/Sydney"),
        (2, "Australia/Sydney"),
    }
    assert plan.zone_sources == {"recipient": 0, "crm": 0, "campaign": 2}
    assert w.zones.asked == []  # nobody's CRM zone is needed


def test_suppressed_addresses_are_left_out_and_counted() -> None:
    w = world()
    campaign(w)
    with_recipients(w, Recipient("keep@example.com"), Recipient("gone@example.com"))
    w.suppressions.add(Suppression(USER, "gone@example.com", "unsubscribed", NOW))

    plan = w.scheduling.schedule(USER, "cmp-1", nine())

    assert (plan.recipients, plan.suppressed) == (1, 1)
    assert w.steps.zone_recipients(USER, "cmp-1", "Europe/London") == ["keep@example.com"]
    (zone,) = w.steps.audience(USER, "cmp-1")
    assert zone.suppressed == ("gone@example.com",)
    assert all(s.recipients == 1 and s.suppressed == 1 for s in w.steps.steps(USER, "cmp-1"))


def test_a_campaign_whose_every_recipient_is_suppressed_is_not_scheduled() -> None:
    w = world()
    campaign(w)
    with_recipients(w, Recipient("gone@example.com"))
    w.suppressions.add(Suppression(USER, "gone@example.com", "bounced", NOW))

    assert code_of(lambda: w.scheduling.schedule(USER, "cmp-1", nine())) == (422, "no_recipients")
    assert w.steps.steps(USER, "cmp-1") == []


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (SendWindow(START, 24, 0, "Europe/London"), "invalid_send_time"),
        (SendWindow(START, 9, 60, "Europe/London"), "invalid_send_time"),
        (SendWindow(START, -1, 0, "Europe/London"), "invalid_send_time"),
        (SendWindow(START, 9, 0, "Mars/Olympus_Mons"), "unknown_timezone"),
        (SendWindow(START, 9, 0, "../../etc/passwd"), "unknown_timezone"),
        # Monday 8 March at 12:00 UTC: 09:00 in London that day is gone
        (SendWindow(date(2027, 3, 8), 9, 0, "Europe/London"), "start_in_past"),
        (SendWindow(date(2026, 1, 1), 9, 0, "Europe/London"), "start_in_past"),
    ],
)
def test_bad_schedules_are_refused_and_change_nothing(request_: SendWindow, code: str) -> None:
    w = world()
    campaign(w)
    with_recipients(w, Recipient("a@example.com"))

    assert code_of(lambda: w.scheduling.schedule(USER, "cmp-1", request_)) == (422, code)
    stored = w.campaigns.get(USER, "cmp-1")
    assert stored is not None
    assert (stored.status, stored.window) == (CampaignStatus.DRAFT, None)
    assert w.steps.steps(USER, "cmp-1") == []


def test_a_start_already_gone_in_one_recipients_zone_is_in_the_past() -> None:
    # 09:00 on 8 March has passed in Kolkata (03:30 UTC) though it is still ahead in New York
    w = world()
    campaign(w)
    with_recipients(
        w,
        Recipient("ny@example.com", timezone="America/New_York"),
        Recipient("in@example.com", timezone="Asia/Kolkata"),
    )
    w.clock.set(utc("2027-03-08T05:00"))

    with pytest.raises(TidingsError) as caught:
        w.scheduling.schedule(USER, "cmp-1", nine(start=date(2027, 3, 8)))

    assert caught.value.code == "start_in_past"
    assert caught.value.details["timezone"] == "Asia/Kolkata"


def test_a_campaign_needs_recipients_or_a_segment_and_an_owner() -> None:
    w = world()
    campaign(w)

    assert code_of(lambda: w.scheduling.schedule(USER, "cmp-1", nine())) == (422, "no_recipients")
    assert code_of(lambda: w.scheduling.schedule(USER, "cmp-404", nine())) == (404, "campaign_not_found")
    assert code_of(lambda: w.scheduling.schedule("someone-else", "cmp-1", nine())) == (
        404,
        "campaign_not_found",
    )


def test_too_many_zones_times_emails_is_refused() -> None:
    w = world(max_steps=3)
    campaign(w)
    with_recipients(
        w, Recipient("a@example.com", timezone="Asia/Kolkata"), Recipient("b@example.com", timezone="UTC")
    )

    assert code_of(lambda: w.scheduling.schedule(USER, "cmp-1", nine())) == (422, "too_many_time_zones")


def test_seconds_delays_count_seconds_from_the_first_send() -> None:
    w = world()
    campaign(w, delays=(0, 30, 30), delay_unit="seconds")
    with_recipients(w, Recipient("a@example.com"))

    w.scheduling.schedule(USER, "cmp-1", SendWindow(date(2027, 3, 8), 12, 5, "UTC"))

    assert [s.send_at for s in w.steps.steps(USER, "cmp-1")] == [
        utc("2027-03-08T12:05:00"),
        utc("2027-03-08T12:05:30"),
        utc("2027-03-08T12:06:00"),
    ]


def crm(w: World, integration_id: str = "int-crm", kind: str = "crm") -> None:
    w.integrations.create(
        Integration(USER, integration_id, "Harbour CRM", kind, "followupboss", "connected", NOW, NOW),
        None,
        replace_existing=False,
        limit=None,
    )


def contact(key: str, email: Any, tags: list[str] | None = None, stage: str | None = None) -> SyncedRecord:
    attributes = {
        "email": email,
        "firstName": f"F{key}",
        "lastName": "L",
        "tags": tags or [],
        "lifecycleStage": stage,
    }
    return SyncedRecord("contact", key, attributes, NOW)


def test_a_segment_is_read_from_the_synced_contacts_and_becomes_the_recipients() -> None:
    w = world()
    crm(w)
    w.synced.upsert(
        USER,
        "int-crm",
        [
            contact("1", " Ana@Harbour.EXAMPLE ", ["Buyer", "spring"], "Lead"),
            contact("2", "bo@harbour.example", ["buyer"], "lead"),  # no "spring" tag
            contact("3", "cy@harbour.example", ["buyer", "Spring"], "customer"),  # another stage
            contact("4", None, ["buyer", "spring"], "lead"),  # no address
            contact("5", "not-an-address", ["buyer", "spring"], "lead"),
            contact("6", "Ana@harbour.example", ["buyer", "spring"], "lead"),  # the same address again
            contact("7", "dee@harbour.example", ["SPRING", "buyer", "vip"], "LEAD"),
        ],
        NOW,
    )
    w.zones.known["7"] = "Pacific/Chatham"
    campaign(w, segment=Segment("int-crm", tags=("buyer", "spring"), lifecycle_stage="lead"))

    plan = w.scheduling.schedule(USER, "cmp-1", nine())

    recipients = list(w.campaigns.recipients(USER, "cmp-1"))
    assert [(r.email, r.client_id, r.first_name) for r in recipients] == [
        ("Ana@harbour.example", "1", "F1"),
        ("dee@harbour.example", "7", "F7"),
    ]
    stored = w.campaigns.get(USER, "cmp-1")
    assert stored is not None
    assert stored.recipient_count == 2
    assert plan.zone_sources == {"recipient": 0, "crm": 1, "campaign": 1}
    assert w.zones.asked == [(["1", "7"], "int-crm")]  # the segment's CRM, not the default one
    assert w.steps.zone_recipients(USER, "cmp-1", "Pacific/Chatham") == ["dee@harbour.example"]


def test_a_segment_must_name_a_crm_of_the_user_with_matching_contacts() -> None:
    w = world()
    crm(w, "int-ga4", kind="analytics")
    crm(w)
    w.synced.upsert(USER, "int-crm", [contact("1", "a@example.com", ["buyer"])], NOW)
    campaign(w, campaign_id="c-unknown", segment=Segment("int-404"))
    campaign(w, campaign_id="c-analytics", segment=Segment("int-ga4"))
    campaign(w, campaign_id="c-empty", segment=Segment("int-crm", tags=("seller",)))

    assert code_of(lambda: w.scheduling.schedule(USER, "c-unknown", nine())) == (404, "integration_not_found")
    assert code_of(lambda: w.scheduling.schedule(USER, "c-analytics", nine())) == (422, "segment_not_crm")
    assert code_of(lambda: w.scheduling.schedule(USER, "c-empty", nine())) == (422, "no_recipients")


def scheduled(w: World, *recipients: Recipient) -> None:
    campaign(w, delays=(0, 3, 2))
    with_recipients(w, *(recipients or (Recipient("ny@example.com", timezone="America/New_York"),)))
    w.scheduling.schedule(USER, "cmp-1", nine("America/New_York"))


def test_only_a_draft_can_be_scheduled_and_each_move_needs_its_state() -> None:
    w = world()
    campaign(w)
    assert code_of(lambda: w.scheduling.pause(USER, "cmp-1")) == (409, "campaign_not_running")
    assert code_of(lambda: w.scheduling.resume(USER, "cmp-1")) == (409, "campaign_not_paused")
    assert code_of(lambda: w.scheduling.cancel(USER, "cmp-1")) == (409, "campaign_not_cancellable")
    with_recipients(w, Recipient("a@example.com"))
    w.scheduling.schedule(USER, "cmp-1", nine())

    assert code_of(lambda: w.scheduling.schedule(USER, "cmp-1", nine())) == (409, "campaign_not_draft")
    assert code_of(lambda: w.scheduling.resume(USER, "cmp-1")) == (409, "campaign_not_paused")
    w.scheduling.pause(USER, "cmp-1")
    assert code_of(lambda: w.scheduling.pause(USER, "cmp-1")) == (409, "campaign_not_running")
    w.scheduling.cancel(USER, "cmp-1")
    for move in (w.scheduling.pause, w.scheduling.resume, w.scheduling.cancel):
        assert code_of(lambda move=move: move(USER, "cmp-1"))[0] == 409  # type: ignore[misc]
    assert code_of(lambda: w.scheduling.pause(USER, "cmp-404")) == (404, "campaign_not_found")


def test_a_scheduled_campaign_left_without_steps_may_be_scheduled_again() -> None:
    w = world()
    campaign(w)
    with_recipients(w, Recipient("a@example.com"))
    w.scheduling.schedule(USER, "cmp-1", nine())
    w.steps.replace_plan(USER, "cmp-1", [], [])  # as a request that died after the campaign's write

    w.scheduling.schedule(USER, "cmp-1", nine("Asia/Kolkata", local=False))

    assert {s.timezone for s in w.steps.steps(USER, "cmp-1")} == {"Asia/Kolkata"}


def test_pause_holds_the_steps_not_yet_fired_and_resume_moves_passed_ones_to_the_next_slot() -> None:
    # Given a campaign to New York: 12 March 09:00 EST, 15 March and 17 March 09:00 EDT
    w = world()
    scheduled(w)
    first = w.steps.get_step(USER, "cmp-1", 1, "America/New_York")
    assert first is not None
    w.clock.set(first.send_at)
    w.steps.mark_fired(USER, "cmp-1", 1, "America/New_York", first.version, first.send_at)

    # When it is paused after the first email, and resumed on 16 March at 10:00 EDT
    paused = w.scheduling.pause(USER, "cmp-1")
    held = w.steps.steps(USER, "cmp-1")
    w.clock.set(utc("2027-03-16T14:00"))
    resumed = w.scheduling.resume(USER, "cmp-1")

    # Then the paused steps had no schedule, the fired one was left alone, and email 2 (due on the
    # 15th, passed) goes out at the next 09:00 (the 17th), email 3 two days after it as before
    assert paused.status == CampaignStatus.PAUSED
    assert [s.state for s in held] == [StepState.FIRED, StepState.HELD, StepState.HELD]
    after = w.steps.steps(USER, "cmp-1")
    assert [s.state for s in after] == [StepState.FIRED, StepState.WAITING, StepState.WAITING]
    assert [s.local_time for s in after[1:]] == ["2027-03-17T09:00:00-04:00", "2027-03-19T09:00:00-04:00"]
    assert after[1].version == held[1].version + 1
    assert resumed.status == CampaignStatus.SCHEDULED  # no email went out as far as the campaign knows


def test_resuming_a_campaign_that_had_started_makes_it_active_and_keeps_future_times() -> None:
    w = world()
    scheduled(w)
    stored = w.campaigns.get(USER, "cmp-1")
    assert stored is not None
    w.campaigns.update(replace(stored, status=CampaignStatus.ACTIVE, started_at=NOW), stored.version)
    before = w.steps.steps(USER, "cmp-1")

    w.scheduling.pause(USER, "cmp-1")
    resumed = w.scheduling.resume(USER, "cmp-1")

    assert resumed.status == CampaignStatus.ACTIVE
    assert [s.send_at for s in w.steps.steps(USER, "cmp-1")] == [s.send_at for s in before]


def test_cancel_cancels_the_steps_not_yet_fired_and_skips_the_planned_sends() -> None:
    w = world()
    scheduled(w)
    first = w.steps.get_step(USER, "cmp-1", 1, "America/New_York")
    assert first is not None
    w.steps.mark_fired(USER, "cmp-1", 1, "America/New_York", first.version, NOW)
    for name in ("sent", "waiting"):
        w.sends.create_if_absent(
            Send(
                USER,
                "cmp-1",
                1,
                f"{name}@example.com",
                SendStatus.PLANNED,
                first.send_at,
                first.local_time,
                "America/New_York",
            )
        )
    done = w.sends.get(USER, "cmp-1", 1, "sent@example.com")
    assert done is not None
    w.sends.mark_sent(w.sends.claim(done, NOW, timedelta(minutes=5)), "ses-1", NOW)

    result = w.scheduling.cancel(USER, "cmp-1")

    assert (result.campaign.status, result.campaign.final_reason, result.skipped) == (
        "cancelled",
        "cancelled",
        1,
    )
    assert [s.state for s in w.steps.steps(USER, "cmp-1")] == [
        StepState.FIRED,
        StepState.CANCELLED,
        StepState.CANCELLED,
    ]
    outcomes = {s.email: (s.status, s.reason) for s in w.sends.list_sends(USER, "cmp-1").sends}
    assert outcomes == {"sent@example.com": ("sent", None), "waiting@example.com": ("skipped", "cancelled")}


def test_delays_edited_while_paused_space_the_resumed_emails() -> None:
    # Given a campaign to New York (12, 15 and 17 March at 09:00), paused before it sends anything
    w = world()
    scheduled(w)
    w.scheduling.pause(USER, "cmp-1")
    stored = w.campaigns.get(USER, "cmp-1")
    assert stored is not None
    # When email 3 is moved to 5 days after email 2 while paused, and the campaign resumed at once
    emails = (stored.emails[0], stored.emails[1], replace(stored.emails[2], delay=5))
    w.campaigns.update(replace(stored, emails=emails), stored.version)
    w.scheduling.resume(USER, "cmp-1")

    # Then the first two keep their times and the third comes 5 days after the second
    assert [s.local_time for s in w.steps.steps(USER, "cmp-1")] == [
        "2027-03-12T09:00:00-05:00",
        "2027-03-15T09:00:00-04:00",
        "2027-03-20T09:00:00-04:00",
    ]
