"""What a campaign's recommendations say, and when they say nothing: length and span for the template,
emails that read alike, long subjects and bodies, a missing call to action, a send time the user's
own analytics contradict, and what the audience and footer lack."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from campaign_fakes import campaign_world, listing
from integration_fakes import USER

from tidings.campaigns.recommendations import estimated_duration, recommend
from tidings.campaigns.service import NewCampaign
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.models.campaigns import Campaign, SendWindow


def generated(**changes: object) -> Campaign:
    w = campaign_world()
    details = {**listing().details, "postalAddress": "12 Quay St, Harbour Point"}
    return w.service.create(USER, listing(details=details, **changes)).campaign  # type: ignore[arg-type]


def codes(campaign: Campaign, **kw: object) -> dict[str, tuple[int, ...]]:
    return {r.code: r.email_numbers for r in recommend(campaign, **kw)}  # type: ignore[arg-type]


def test_a_generated_campaign_with_an_audience_and_an_address_needs_nothing() -> None:
    campaign = replace(generated(), recipient_count=3)

    assert recommend(campaign) == []
    assert codes(replace(campaign, recipient_count=0)) == {"no_recipients": ()}


def test_length_and_span_for_the_template() -> None:
    short = generated(email_count=2, delay=1)
    long = generated(email_count=9, delay=10)

    assert {"too_few_emails", "too_short"} <= set(codes(short))
    assert {"too_many_emails", "too_long"} <= set(codes(long))
    assert estimated_duration(long) == 80


def test_emails_on_the_same_day_are_named() -> None:
    campaign = generated()
    emails = tuple(replace(e, delay=0) if e.n in (3, 4) else e for e in campaign.emails)

    assert codes(replace(campaign, emails=emails))["same_day_emails"] == (3, 4)


def test_emails_that_read_alike_are_named() -> None:
    campaign = generated()
    second, fourth = campaign.emails[1], campaign.emails[3]
    copied = replace(fourth, subject=second.subject + "!", text=second.text, html=second.html)
    emails = tuple(copied if e.n == 4 else e for e in campaign.emails)

    assert codes(replace(campaign, emails=emails))["similar_emails"] == (2, 4)


def test_long_subjects_and_wordy_bodies_are_named() -> None:
    campaign = generated()
    wordy = " ".join(["More about the home."] * 100)
    emails = tuple(
        replace(e, subject="A subject that goes on and on well past what any inbox shows in a list")
        if e.n == 2
        else replace(e, text=f"{wordy}\n\n--\nUnsubscribe: {{{{ unsubscribeUrl }}}}")
        if e.n == 3
        else e
        for e in campaign.emails
    )

    found = codes(replace(campaign, emails=emails))

    assert found["subject_too_long"] == (2,)
    assert found["email_too_long"] == (3,)


def test_a_sequence_that_never_asks_for_the_next_step() -> None:
    campaign = generated()
    last = campaign.emails[-1]
    vague = replace(last, text="Hello,\n\nThat is all for now.\n\n--\nUnsubscribe: {{ unsubscribeUrl }}")
    no_cta = tuple(replace(e, role="value") if e.n == 5 else e for e in campaign.emails)

    assert codes(replace(campaign, emails=(*campaign.emails[:-1], vague)))["missing_call_to_action"] == (5,)
    assert codes(replace(campaign, emails=no_cta))["missing_call_to_action"] == ()


def _posts(hour: int, count: int, engagement: float) -> list[EngagementSample]:
    start = datetime(2026, 5, 4, hour, 5, tzinfo=UTC)
    return [
        EngagementSample(Platform.FACEBOOK, start + timedelta(days=i), engagement + (i % 3), reach=None)
        for i in range(count)
    ]


def test_a_send_time_the_users_own_posts_contradict() -> None:
    campaign = replace(
        generated(), window=SendWindow(date(2026, 9, 1), 22, 30, "UTC", recipient_local_time=False)
    )
    rich = {Platform.FACEBOOK: _posts(10, 40, 300.0) + _posts(22, 40, 5.0)}
    sparse = {Platform.FACEBOOK: _posts(10, 8, 300.0) + _posts(22, 8, 5.0)}

    found = recommend(campaign, rich)
    advice = next(r for r in found if r.code == "send_time_contradicted")

    assert "around 10:00 in UTC" in advice.message
    assert "sends at 22:30" in advice.message
    assert "send_time_contradicted" not in codes(campaign, samples=sparse)
    assert "send_time_contradicted" not in codes(replace(campaign, window=None), samples=rich)
    at_ten = replace(campaign, window=SendWindow(date(2026, 9, 1), 10, 0, "UTC"))
    assert "send_time_contradicted" not in codes(at_ten, samples=rich)


def test_sender_name_and_delays_in_seconds() -> None:
    w = campaign_world(campaign_seconds_delays_allowed=True)
    anonymous = w.service.create(USER, NewCampaign(name="Quick", delay=20, delay_unit="seconds"))

    assert "no_sender_name" in {r.code for r in anonymous.recommendations}
    assert anonymous.estimated_duration == 0.0009  # 80 seconds
    assert not {"too_short", "same_day_emails"} & {r.code for r in anonymous.recommendations}
    named = w.service.create(USER, NewCampaign(name="Signed", variables={"agentName": "Sam Rivera"}))
    assert "no_sender_name" not in {r.code for r in named.recommendations}
    assert (
        named.campaign.emails[0].text.split("\n--\n")[0].rstrip().endswith("Kind regards,\n{{ agentName }}")
    )
