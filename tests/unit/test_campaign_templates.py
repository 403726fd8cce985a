"""Campaign generation: each template's length and flow, copy written for its audience from the
details given, the tones and brand voice of the content package, personalisation variables kept as
variables, HTML that cannot be broken by what the user typed, the unsubscribe placeholder closing
every body, and the Bedrock path."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from campaign_fakes import campaign_world, listing
from integration_fakes import USER

from tidings.campaigns.content import html_source
from tidings.campaigns.model import parse_reply
from tidings.campaigns.service import NewCampaign
from tidings.campaigns.templates import flow
from tidings.core.errors import TidingsError
from tidings.models.campaigns import TEMPLATE_LENGTHS

MARKET = {
    "location": "Harbour Point",
    "medianPrice": 420000,
    "currency": "$",
    "priceChange": -3.5,
    "period": "vs. last year",
    "daysOnMarket": 48,
    "inventory": 140,
}
NEEDED = {"listing-promotion": listing().details, "market-update": MARKET}


def test_flows_open_with_an_introduction_end_with_a_call_to_action_and_alternate_between() -> None:
    assert flow(1) == ("call_to_action",)
    assert flow(2) == ("introduction", "call_to_action")
    assert flow(4) == ("introduction", "value", "social_proof", "call_to_action")
    assert flow(5) == ("introduction", "value", "social_proof", "value", "call_to_action")
    assert flow(10) == (
        "introduction",
        *("value", "social_proof") * 4,
        "call_to_action",
    )


@pytest.mark.parametrize(("template", "length"), sorted(TEMPLATE_LENGTHS.items()))
def test_each_template_has_its_length_and_distinct_emails_spaced_by_the_delay(
    template: str, length: int
) -> None:
    w = campaign_world()

    done = w.service.create(
        USER, NewCampaign(name="Spring", template=template, details=NEEDED.get(template, {}))
    )

    emails = done.campaign.emails
    assert [e.n for e in emails] == list(range(1, length + 1))
    assert tuple(e.role for e in emails) == flow(length)
    assert [e.delay for e in emails] == [0] + [3] * (length - 1)
    assert done.estimated_duration == 3 * (length - 1)
    assert len({e.subject for e in emails}) == length
    assert len({e.text for e in emails}) == length
    assert done.campaign.status == "draft"
    assert not done.campaign.auto_schedule
    assert "similar_emails" not in {r.code for r in done.recommendations}


def test_a_custom_campaign_takes_its_count_and_writes_about_its_topic() -> None:
    w = campaign_world()

    done = w.service.create(
        USER, NewCampaign(name="Buyers", template="custom", topic="buying your first home", email_count=10)
    )

    emails = done.campaign.emails
    assert len(emails) == 10
    assert len({e.subject for e in emails}) == 10
    assert emails[0].subject == "Buying your first home"
    assert "buying your first home" in emails[-1].text
    assert {r.code for r in done.recommendations} >= {"too_many_emails"}


def test_a_listing_promotion_is_written_from_the_listing() -> None:
    w = campaign_world()

    emails = w.service.create(USER, listing()).campaign.emails

    intro, details_email = emails[0], emails[1]
    assert intro.subject == "Just listed: 12 Harbour Lane"
    assert intro.preheader == "3 bedrooms · 2 bathrooms · 1,850 sq ft · $450,000"
    assert "a new listing: 12 Harbour Lane in Harbour Point." in intro.text
    assert "Highlights: sea view and new kitchen." in intro.text
    assert "- Price: $450,000\n- Bedrooms: 3\n- Bathrooms: 2\n- Size: 1,850 sq ft" in details_email.text
    assert "Full details: https://harbour.example/listings/12" in intro.text
    last = emails[-1]
    assert last.role == "call_to_action"
    assert "Reply to this email to arrange a private viewing." in last.text
    assert 'href="https://harbour.example/listings/12"' in last.html
    assert "Kind regards,\nHarbour Homes\nYour coast, your home" in last.text


def test_a_market_update_explains_the_figures_for_sellers_and_buyers() -> None:
    w = campaign_world()

    emails = w.service.create(
        USER, NewCampaign(name="Market", template="market-update", email_count=5, details=MARKET)
    ).campaign.emails

    assert emails[0].subject == "Harbour Point market update"
    assert "The median sale price is $420,000. Prices are down 3.5% vs. last year." in emails[0].text
    sellers = next(e for e in emails if e.subject.startswith("What the market means if you are selling"))
    buyers = next(e for e in emails if e.subject.startswith("What the market means if you are buying"))
    assert "may need some patience" in sellers.text
    assert "a realistic price from the first day" in sellers.text
    assert "there may be room to negotiate" in buyers.text


def test_a_seasonal_campaign_takes_the_season_given_or_the_current_one() -> None:
    w = campaign_world()  # the world's clock is in August: summer

    current = w.service.create(USER, NewCampaign(name="Now", template="seasonal")).campaign.emails
    given = w.service.create(
        USER, NewCampaign(name="Fall", template="seasonal", details={"season": "fall"})
    ).campaign.emails

    assert current[0].subject == "Welcome to summer"
    assert given[0].subject == "Welcome to autumn"
    assert "Service the heating system before it is needed" in given[1].text


def test_tones_change_the_greeting_the_call_to_action_and_the_subjects() -> None:
    w = campaign_world()

    def written(tone: str) -> tuple[str, str]:
        emails = w.service.create(USER, listing(tone=tone, name=tone)).campaign.emails
        return emails[0].subject, emails[-1].text

    pro_subject, pro = written("professional")
    enthusiastic_subject, enthusiastic = written("enthusiastic")
    informative_subject, informative = written("informative")

    assert pro.startswith('Hello {{ firstName|default("there") }},')
    assert enthusiastic.startswith('Hi {{ firstName|default("there") }}! 👋')
    assert "👉 Book your private viewing today!" in enthusiastic
    assert "Cheers," in enthusiastic
    assert "Regards," in informative
    assert pro_subject == informative_subject == "Just listed: 12 Harbour Lane"
    assert enthusiastic_subject == "🏡 Just listed: 12 Harbour Lane"
    assert "!" not in pro.split("\n--\n")[0].replace("! 👋", "")


def test_the_brand_voice_signs_lends_its_phrases_and_its_avoided_phrases_go() -> None:
    w = campaign_world()

    emails = w.service.create(
        USER,
        NewCampaign(
            name="Nurture",
            brand_voice={
                "name": "Harbour Homes",
                "phrases": ["Home is where the tide is"],
                "avoid": ["free"],
            },
        ),
    ).campaign.emails

    assert all("Home is where the tide is.\nKind regards,\nHarbour Homes" in e.text for e in emails)
    assert all("in touch with Harbour Homes" in e.text for e in emails)
    assert not any(re.search(r"\bfree\b", e.text + e.subject, re.IGNORECASE) for e in emails)


def test_every_body_ends_with_the_unsubscribe_placeholder() -> None:
    w = campaign_world()

    emails = w.service.create(USER, listing()).campaign.emails

    for e in emails:
        assert e.text.endswith("Unsubscribe: {{ unsubscribeUrl }}")
        after = e.html[e.html.rindex("<a ") :]
        assert re.fullmatch(r'<a href="{{ unsubscribeUrl }}"[^>]*>Unsubscribe</a>(\s*</\w+>)*\s*', after)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_what_the_user_typed_cannot_add_markup_and_its_variables_stay_variables() -> None:
    w = campaign_world()

    done = w.service.create(
        USER,
        listing(
            details={**listing().details, "address": '<img src=x onerror="alert(1)"> & {{ firstName }}\'s'},
            brand_voice={"name": "Harbour <b>Homes</b>"},
        ),
    )

    html = done.campaign.emails[0].html
    parser = _Tags()
    parser.feed(html)
    assert "img" not in parser.tags
    assert "b" not in parser.tags
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; {{ firstName }}&#x27;s" in html
    assert "Harbour &lt;b&gt;Homes&lt;/b&gt;" in html
    assert html_source('{{ x|default("<i>") }} <i>') == '{{ x|default("<i>") }} &lt;i&gt;'


def test_include_images_shows_the_listing_photo() -> None:
    w = campaign_world()

    with_image = w.service.create(
        USER,
        listing(include_images=True, details={**listing().details, "imageUrl": "https://cdn.example/12.jpg"}),
    )
    without = w.service.create(USER, listing(include_images=True, name="No photo"))

    assert '<img src="https://cdn.example/12.jpg" alt="12 Harbour Lane"' in with_image.campaign.emails[0].html
    assert "<img" not in without.campaign.emails[0].html
    assert "images_missing" in {r.code for r in without.recommendations}


MODEL_REPLY = "\n".join(
    [
        "=== EMAIL 1",
        "Subject: Hello from the coast",
        "Preheader: A few notes on coastal living.",
        "We are starting a short series about {{ firstName }} and the coast.",
        "",
        "Each email is short.",
        "=== EMAIL 2",
        "Subject: Ready when you are",
        "Preheader: One step away.",
        "Whenever you are ready, we are here.",
    ]
)


def test_with_use_model_the_model_writes_and_the_frame_stays() -> None:
    w = campaign_world(bedrock_model_id="anthropic.claude-test")
    w.bedrock.reply = MODEL_REPLY

    done = w.service.create(
        USER,
        NewCampaign(name="Model", template="custom", topic="coastal living", email_count=2, use_model=True),
    )

    emails = done.campaign.emails
    assert (done.campaign.source, done.campaign.model_id) == ("bedrock", "anthropic.claude-test")
    assert [e.subject for e in emails] == ["Hello from the coast", "Ready when you are"]
    assert "a short series about { { firstName }} and the coast." in emails[0].text  # text, not a variable
    assert emails[1].text.endswith("Unsubscribe: {{ unsubscribeUrl }}")
    call = w.bedrock.calls[0]
    assert call["modelId"] == "anthropic.claude-test"
    prompt = call["messages"][0]["content"][0]["text"]
    assert "1. introduction:" in prompt
    assert "2. call_to_action:" in prompt


def test_the_model_path_fails_plainly() -> None:
    w = campaign_world()
    request = NewCampaign(
        name="Model", template="custom", topic="coastal living", email_count=2, use_model=True
    )

    with pytest.raises(TidingsError) as not_configured:
        w.service.create(USER, request)
    w.configure(bedrock_model_id="anthropic.claude-test")
    w.bedrock.reply = "Subject: only one\nSome text"
    with pytest.raises(TidingsError) as bad_answer:
        w.service.create(USER, request)
    w.configure(campaign_model_daily_limit=2)
    w.bedrock.reply = MODEL_REPLY
    w.service.create(USER, request)
    with pytest.raises(TidingsError) as over_limit:
        w.service.create(USER, request)
    w.world.base.clock.advance(timedelta(days=1))
    w.service.create(USER, request)

    assert (not_configured.value.status, not_configured.value.code) == (422, "model_not_configured")
    assert (bad_answer.value.status, bad_answer.value.code) == (502, "model_error")
    assert over_limit.value.status == 429
    assert over_limit.value.code == "model_limit_reached"
    assert 0 < over_limit.value.details["retryAfterSeconds"] <= 86_400
    assert len(w.bedrock.calls) == 3  # the refused one never reached the model
    assert w.repository.count(USER) == 2
    with pytest.raises(TidingsError):
        parse_reply(MODEL_REPLY, 3)
