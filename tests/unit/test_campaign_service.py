"""The campaign use-case: the variables a campaign may use, the per-user limit, delays in seconds only
where allowed, what a PATCH may change and when, what DELETE refuses, and a preview rendered for a
recipient of the list or a CRM client exactly as it is sent, every value escaped in the HTML."""

from __future__ import annotations

from dataclasses import replace

import pytest
from campaign_fakes import CampaignWorld, campaign_world, listing
from integration_fakes import USER

from tidings.campaigns.recipients import RecipientInput
from tidings.campaigns.render import PREVIEW_UNSUBSCRIBE_URL
from tidings.campaigns.service import CampaignChange, EmailChange, NewCampaign
from tidings.core.errors import TidingsError
from tidings.models.campaigns import CampaignStatus, Recipient, Segment


def refused(call: object) -> tuple[int, str, dict[str, object]]:
    with pytest.raises(TidingsError) as caught:
        call()  # type: ignore[operator]
    return caught.value.status, caught.value.code, caught.value.details


@pytest.fixture
def w() -> CampaignWorld:
    return campaign_world()


def test_variables_must_be_ones_a_recipient_or_the_campaign_supplies(w: CampaignWorld) -> None:
    ok = w.service.create(
        USER,
        NewCampaign(
            name="Known",
            topic="homes for {{ firstName }} near {{ location }}, from {{ agentName }}",
            details={"location": "Harbour Point"},
            variables={"agentName": "Sam Rivera"},
        ),
    )
    status, code, details = refused(
        lambda: w.service.create(USER, NewCampaign(name="Unknown", topic="budget {{ annualBudget }} {{ x }}"))
    )

    assert "{{ agentName }}" in ok.campaign.emails[0].text
    assert (status, code) == (422, "unknown_variables")
    assert details["unknown"] == ["annualBudget", "x"]
    assert details["emails"] == {"1": ["annualBudget", "x"]}  # the nurture's topic is its introduction's
    assert w.repository.count(USER) == 1


def test_with_a_crm_segment_other_names_are_custom_field_aliases(w: CampaignWorld) -> None:
    crm = w.world.crm()

    done = w.service.create(
        USER,
        NewCampaign(
            name="Segment", topic="your {{ annualBudget }} budget", segment=Segment(crm.integration_id)
        ),
    )
    status, code, _ = refused(
        lambda: w.service.create(
            USER, NewCampaign(name="Bad", topic="{{ loop.index }}", segment=Segment(crm.integration_id))
        )
    )
    unknown_crm = refused(
        lambda: w.service.create(USER, NewCampaign(name="No CRM", segment=Segment("int_nope")))
    )

    assert done.campaign.segment == Segment(crm.integration_id)
    assert (status, code) == (422, "unknown_variables")
    assert unknown_crm[:2] == (404, "integration_not_found")


def test_bad_templates_and_settings_are_refused_with_their_codes(w: CampaignWorld) -> None:
    cases = {
        "unknown_template": NewCampaign(name="x", template="newsletter"),
        "invalid_email_count": NewCampaign(name="x", email_count=11),
        "invalid_delay": NewCampaign(name="x", delay=-1),
        "seconds_delays_not_allowed": NewCampaign(name="x", delay_unit="seconds"),
        "invalid_delay_unit": NewCampaign(name="x", delay_unit="weeks"),
        "topic_required": NewCampaign(name="x", template="custom"),
        "missing_details": NewCampaign(name="x", template="listing-promotion"),
        "invalid_campaign": NewCampaign(name="x", tone="sarcastic"),
        "invalid_details": NewCampaign(name="x", details={"imageUrl": "http://plain.example/a.jpg"}),
        "invalid_variables": NewCampaign(name="x", variables={"firstName": "Everyone"}),
        "recipients_and_segment": NewCampaign(
            name="x", recipients=[RecipientInput("a@b.example")], segment=Segment("int_1")
        ),
        "invalid_recipients": NewCampaign(name="x", recipients=[RecipientInput("nope")]),
        "template_invalid": NewCampaign(name="x", topic="{{ unclosed"),
        "auto_schedule_unavailable": NewCampaign(name="x", auto_schedule=True),
        "invalid_name": NewCampaign(name="   "),
    }

    found = {code: refused(lambda new=new: w.service.create(USER, new))[:2] for code, new in cases.items()}

    assert {code: got[1] for code, got in found.items()} == {code: code for code in cases}
    assert all(status == 422 for status, _ in found.values())
    assert w.repository.count(USER) == 0


def test_delays_in_seconds_where_the_runtime_allows_them(w: CampaignWorld) -> None:
    w.configure(campaign_seconds_delays_allowed=True)

    done = w.service.create(USER, NewCampaign(name="Demo", email_count=3, delay=20, delay_unit="seconds"))

    assert done.campaign.delay_unit == "seconds"
    assert [e.delay for e in done.campaign.emails] == [0, 20, 20]


def test_a_user_keeps_at_most_the_configured_number_of_campaigns(w: CampaignWorld) -> None:
    w.configure(campaign_max_per_user=2, bedrock_model_id="anthropic.claude-test")
    first = w.service.create(USER, NewCampaign(name="One"))
    w.service.create(USER, NewCampaign(name="Two"))

    status, code, details = refused(
        lambda: w.service.create(
            USER, NewCampaign(name="Three", template="custom", topic="x", use_model=True)
        )
    )
    w.service.delete(USER, first.campaign.campaign_id)
    w.service.create(USER, NewCampaign(name="Three"))

    assert (status, code, details) == (409, "campaign_limit_reached", {"limit": 2})
    assert w.bedrock.calls == []  # refused before any model call


def test_recipients_are_stored_apart_and_counted(w: CampaignWorld) -> None:
    done = w.service.create(
        USER,
        NewCampaign(
            name="List",
            recipients=[
                RecipientInput("maya@Harbour.example", "Maya"),
                RecipientInput("sam@harbour.example", "Sam", timezone="Europe/Lisbon"),
                RecipientInput("maya@harbour.example", "Maria", "Okafor"),
            ],
        ),
    )

    assert done.campaign.recipient_count == 2
    assert list(w.repository.recipients(USER, done.campaign.campaign_id)) == [
        Recipient("maya@harbour.example", "Maya", "Okafor"),
        Recipient("sam@harbour.example", "Sam", timezone="Europe/Lisbon"),
    ]
    assert "no_recipients" not in {r.code for r in done.recommendations}


def test_a_patch_changes_what_it_names_while_draft_or_paused(w: CampaignWorld) -> None:
    created = w.service.create(USER, listing(recipients=[RecipientInput("maya@harbour.example")])).campaign
    crm = w.world.crm()

    changed = w.service.patch(
        USER,
        created.campaign_id,
        CampaignChange(
            name="Renamed",
            variables={"agentName": "Sam"},
            emails=[EmailChange(2, subject="Inside, with {{ agentName }}", delay=5)],
            segment=Segment(crm.integration_id, ("buyer",)),
        ),
    ).campaign

    assert (changed.name, changed.version) == ("Renamed", 2)
    assert (changed.emails[1].subject, changed.emails[1].delay) == ("Inside, with {{ agentName }}", 5)
    assert changed.emails[0] == created.emails[0]
    assert changed.segment == Segment(crm.integration_id, ("buyer",))
    assert changed.recipient_count == 0  # the segment replaced the list
    again = w.service.patch(
        USER, created.campaign_id, CampaignChange(recipients=[RecipientInput("kim@harbour.example")])
    ).campaign
    assert (again.segment, again.recipient_count) == (None, 1)
    cleared = w.service.patch(USER, created.campaign_id, CampaignChange(segment=None)).campaign
    assert cleared.segment is None


def test_a_patch_is_refused_when_it_would_break_the_campaign_or_it_is_not_editable(w: CampaignWorld) -> None:
    created = w.service.create(USER, listing()).campaign
    campaign_id = created.campaign_id

    cases = {
        "unknown_email": CampaignChange(emails=[EmailChange(9, subject="x")]),
        "unknown_variables": CampaignChange(
            emails=[EmailChange(1, text="Hi {{ nickname }} {{ unsubscribeUrl }}")]
        ),
        "unsubscribe_missing": CampaignChange(emails=[EmailChange(1, html="<p>No way out</p>")]),
        "invalid_email_content": CampaignChange(emails=[EmailChange(1, subject=" ")]),
        "duplicate_email": CampaignChange(emails=[EmailChange(1, subject="a"), EmailChange(1, subject="b")]),
        "template_unsafe": CampaignChange(
            emails=[EmailChange(1, text="{{ ''.__class__ }} {{ unsubscribeUrl }}")]
        ),
        "campaign_busy": CampaignChange(name="Late", version=7),
    }
    found = {code: refused(lambda c=c: w.service.patch(USER, campaign_id, c))[1] for code, c in cases.items()}
    w.repository.update(replace(created, status=CampaignStatus.SCHEDULED), created.version)
    not_editable = refused(lambda: w.service.patch(USER, campaign_id, CampaignChange(name="Later")))
    missing = refused(lambda: w.service.patch(USER, "nope", CampaignChange(name="x")))

    assert found == {code: code for code in cases}
    assert not_editable[:2] == (409, "campaign_not_editable")
    assert missing[:2] == (404, "campaign_not_found")
    stored = w.service.get(USER, campaign_id).campaign
    assert (stored.name, stored.emails) == (created.name, created.emails)


@pytest.mark.parametrize(
    ("status", "deletable"),
    [
        (CampaignStatus.DRAFT, True),
        (CampaignStatus.SCHEDULED, False),
        (CampaignStatus.ACTIVE, False),
        (CampaignStatus.PAUSED, False),
        (CampaignStatus.CANCELLED, True),
        (CampaignStatus.COMPLETED, True),
    ],
)
def test_a_campaign_that_holds_schedules_is_deleted_only_once_cancelled(
    w: CampaignWorld, status: str, deletable: bool
) -> None:
    created = w.service.create(USER, listing(recipients=[RecipientInput("maya@harbour.example")])).campaign
    w.repository.update(replace(created, status=status), created.version)

    if deletable:
        w.service.delete(USER, created.campaign_id)
        assert w.repository.get(USER, created.campaign_id) is None
        assert list(w.repository.recipients(USER, created.campaign_id)) == []
    else:
        assert refused(lambda: w.service.delete(USER, created.campaign_id))[:2] == (
            409,
            "campaign_not_deletable",
        )
        assert w.repository.get(USER, created.campaign_id) is not None


def test_a_preview_renders_for_a_list_recipient_with_every_value_escaped_in_the_html(
    w: CampaignWorld,
) -> None:
    created = w.service.create(
        USER,
        listing(
            variables={"agentName": "Sam & Co"},
            recipients=[RecipientInput("tom@harbour.example", '<b>Tom</b> "T" & Jerry', "O'Neil")],
        ),
    ).campaign

    preview = w.service.preview(USER, created.campaign_id, 1, email="tom@HARBOUR.example")

    email = preview.email
    assert (preview.source, email.email, preview.role) == ("list", "tom@harbour.example", "introduction")
    assert email.subject == "Just listed: 12 Harbour Lane"
    assert email.preheader == "3 bedrooms · 2 bathrooms · 1,850 sq ft · $450,000"
    hidden = email.html.split("<body", 1)[1].split(">", 1)[1]
    assert hidden.startswith('<div style="display:none;')
    assert email.preheader in hidden.split("</div>")[0]
    assert email.text.startswith('Hello <b>Tom</b> "T" & Jerry,')
    assert email.html.count("Hello &lt;b&gt;Tom&lt;/b&gt; &quot;T&quot; &amp; Jerry,") == 1
    assert "<b>Tom" not in email.html
    assert email.text.endswith(f"Unsubscribe: {PREVIEW_UNSUBSCRIBE_URL}")
    assert f'<a href="{PREVIEW_UNSUBSCRIBE_URL}"' in email.html
    assert "{{" not in email.text + email.html


def test_a_preview_for_a_crm_client_uses_the_clients_fields(w: CampaignWorld) -> None:
    w.world.crm()
    w.crm.clients["501"] = replace(w.crm.clients["501"], last_name="<script>x</script>")
    created = w.service.create(
        USER, NewCampaign(name="Nurture", topic="your home, {{ fullName }}", variables={"agentName": "Sam"})
    ).campaign

    preview = w.service.preview(USER, created.campaign_id, 1, client_id="501")
    first = w.service.preview(USER, created.campaign_id, 2)  # no list: the campaign's values only

    assert preview.source == "crm"
    assert (preview.email.client_id, preview.email.fields) == ("501", ["firstName", "fullName"])
    assert preview.email.text.startswith("Hello Maya,")
    assert "Maya <script>x</script>" in preview.email.text
    assert "Maya &lt;script&gt;x&lt;/script&gt;" in preview.email.html
    assert "<script>" not in preview.email.html
    assert first.source == "none"
    assert first.email.text.startswith("Hello there,")


def test_a_preview_names_what_it_cannot_render(w: CampaignWorld) -> None:
    created = w.service.create(USER, NewCampaign(name="Nurture")).campaign
    campaign_id = created.campaign_id

    assert refused(lambda: w.service.preview(USER, campaign_id, 9))[:2] == (404, "email_not_found")
    assert refused(lambda: w.service.preview(USER, campaign_id, 1, email="x@y.example"))[:2] == (
        404,
        "recipient_not_found",
    )
    assert refused(lambda: w.service.preview(USER, campaign_id, 1, email="not an address"))[:2] == (
        422,
        "invalid_email",
    )
    assert refused(lambda: w.service.preview(USER, campaign_id, 1, email="a@b.example", client_id="501"))[
        :2
    ] == (422, "one_recipient")
    assert refused(lambda: w.service.preview(USER, campaign_id, 1, client_id="501"))[:2] == (
        409,
        "no_crm_connected",
    )
    w.service.patch(USER, campaign_id, CampaignChange(emails=[EmailChange(1, subject="For {{ phone }}")]))
    assert refused(lambda: w.service.preview(USER, campaign_id, 1))[:2] == (422, "missing_variables")


def test_a_paused_campaign_keeps_its_audience_but_its_emails_may_change(w: CampaignWorld) -> None:
    created = w.service.create(USER, listing(recipients=[RecipientInput("maya@harbour.example")])).campaign
    w.repository.update(replace(created, status=CampaignStatus.PAUSED), created.version)

    audience = refused(
        lambda: w.service.patch(
            USER, created.campaign_id, CampaignChange(recipients=[RecipientInput("kim@harbour.example")])
        )
    )
    segment = refused(
        lambda: w.service.patch(USER, created.campaign_id, CampaignChange(segment=Segment("int_x")))
    )
    renamed = w.service.patch(USER, created.campaign_id, CampaignChange(name="Renamed")).campaign

    assert audience[:2] == segment[:2] == (409, "campaign_audience_fixed")
    assert (renamed.name, renamed.recipient_count) == ("Renamed", 1)
    assert [r.email for r in w.repository.recipients(USER, created.campaign_id)] == ["maya@harbour.example"]


def test_deleting_a_finished_campaign_takes_its_steps_and_sends_with_it() -> None:
    from datetime import timedelta

    from tidings.campaigns.service import CampaignService
    from tidings.models.campaigns import CampaignStep
    from tidings.store.memory.campaign_sends import InMemoryStepRepository

    base = campaign_world()
    plans = InMemoryStepRepository()
    service = CampaignService(
        base.repository,
        lambda: base.settings,
        base.service.personalization,
        plans=plans,
        clock=base.world.base.clock,
    )
    created = service.create(USER, listing(recipients=[RecipientInput("maya@harbour.example")])).campaign
    now = base.world.base.clock.now()
    step = CampaignStep(
        user_id=USER,
        campaign_id=created.campaign_id,
        n=1,
        timezone="UTC",
        send_at=now + timedelta(days=1),
        local_time=(now + timedelta(days=1)).isoformat(),
        recipients=1,
        created_at=now,
        updated_at=now,
    )
    plans.replace_plan(USER, created.campaign_id, [step], [])
    base.repository.update(replace(created, status=CampaignStatus.COMPLETED), created.version)

    service.delete(USER, created.campaign_id)

    assert plans.steps(USER, created.campaign_id) == []
    assert base.repository.get(USER, created.campaign_id) is None


def test_auto_schedule_hands_the_new_campaign_to_the_scheduler_with_the_default_window() -> None:
    from datetime import date, datetime

    from tidings.campaigns.scheduling import auto_window
    from tidings.campaigns.service import CampaignService

    window = auto_window(datetime.fromisoformat("2026-03-07T23:30:00+00:00"), "America/New_York", 9)
    assert (window.start_date, window.hour, window.minute) == (date(2026, 3, 8), 9, 0)
    assert (window.timezone, window.recipient_local_time) == ("America/New_York", True)

    base = campaign_world()
    handed: list[str] = []

    def scheduler(user_id: str, campaign: object) -> object:
        handed.append(campaign.campaign_id)  # type: ignore[attr-defined]
        return replace(campaign, status=CampaignStatus.SCHEDULED)  # type: ignore[type-var]

    service = CampaignService(
        base.repository,
        lambda: base.settings,
        base.service.personalization,
        auto_scheduler=scheduler,  # type: ignore[arg-type]
        clock=base.world.base.clock,
    )
    done = service.create(
        USER, listing(recipients=[RecipientInput("maya@harbour.example")], auto_schedule=True)
    )
    assert handed == [done.campaign.campaign_id]
    assert done.campaign.status == CampaignStatus.SCHEDULED
