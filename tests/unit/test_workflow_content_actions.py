"""The content and reporting actions: generate_content (templates, tones, platform limits, gate feedback,
the Bedrock path), validate_content, send_notification (webhook, e-mail) and the analytics report.

Collaborators are fakes: httpx.MockTransport for HTTP, a fake resolver for host names, fake Bedrock and
SES clients, an in-memory analytics repository. The report actions also run on real engagement data,
Dehouche (2020), "Dataset on usage and engagement patterns for Facebook Live sellers in Thailand", Data
in Brief (CC BY 4.0, ../shared/corpora/social-engagement, loaded by tests/unit/corpus.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from corpus import live_seller_samples
from notification_fakes import confirmed_mail

from tidings import __version__
from tidings.aws.mail import SesMail
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.platforms import RULES, Platform, text_length
from tidings.models.analytics import EngagementSample
from tidings.workflows import gates
from tidings.workflows.action import ActionContext, ActionFailed, ActionServices
from tidings.workflows.actions import analytics_report as report
from tidings.workflows.actions import generate_content as gc
from tidings.workflows.actions.send_notification import SendNotification
from tidings.workflows.actions.validate_content import ValidateContent
from tidings.workflows.content.catalogue import TEMPLATES as CONTENT_TEMPLATES
from tidings.workflows.content.catalogue import TONES
from tidings.workflows.content.fitting import shorten
from tidings.workflows.definitions import resolve
from tidings.workflows.templates import FAIR_HOUSING_PHRASES, TEMPLATES

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONFIRMED = ("owner@sunnyhomes.example",)  # the notification addresses user-1 confirmed
PUBLIC = "93.184.215.14"


def _unused() -> Any:
    raise AssertionError("this collaborator should not be used")


def make_ctx(
    *,
    feedback: tuple[str, ...] = (),
    settings: Settings | None = None,
    http: httpx.Client | None = None,
    ses: Any = None,
    bedrock: Any = None,
    analytics: Any = None,
    now: datetime = NOW,
    per_hour: int = 30,
) -> ActionContext:
    services = ActionServices(
        settings=lambda: settings or Settings(),
        scheduling=_unused,
        analytics=(lambda: analytics) if analytics is not None else _unused,
        http=(lambda: http) if http is not None else _unused,
        ses=(lambda: ses) if ses is not None else _unused,
        bedrock=(lambda: bedrock) if bedrock is not None else _unused,
    )
    clock = FakeClock(now)
    if ses is not None:
        mail = confirmed_mail(
            SesMail(ses),
            clock,
            "user-1",
            *CONFIRMED,
            sender=(settings or Settings()).notification_from_email,
            per_hour=per_hour,
        )
        services.notifications = lambda: mail
    return ActionContext("user-1", "wf-1", "step-1", 1, clock, services, feedback)


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def client_error(code: str, status: int, operation: str = "Converse") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


LISTING = {
    "address": "12 Oak Street, Springfield",
    "price": 450000,
    "currency": "$",
    "bedrooms": 3,
    "bathrooms": 2.5,
    "area": 1850,
    "location": "Springfield",
    "highlights": [
        "renovated kitchen with quartz counters",
        "south-facing garden",
        "two-car garage",
        "five minutes' walk to Lincoln Park",
        "new roof in 2024",
    ],
    "date": "Saturday, March 14",
    "time": "1-3 pm",
    "medianPrice": 412500,
    "priceChange": 3.2,
    "period": "vs. last year",
    "daysOnMarket": 24,
    "inventory": 118,
    "cta": "Message us to book a private tour",
    "link": "https://sunnyhomes.example/listings/12-oak-street",
    "phone": "555-0100",
}
BRAND = {
    "name": "Sunny Homes",
    "tagline": "Your key to the coast",
    "phrases": ["Coastal living, made simple"],
}
HASHTAGS = ["RealEstate", "JustListed", "Springfield", "HomeForSale", "DreamHome", "CoastalLiving"]
ALL_TEMPLATES = list(CONTENT_TEMPLATES)
ALL_TONES = list(TONES)


def generate(params: dict[str, Any], **ctx: Any) -> dict[str, Any]:
    return gc.ACTION.run(make_ctx(**ctx), params)


def listing_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "template": "listing_post",
        "topic": "Just listed: 12 Oak Street",
        "tone": "professional",
        "brandVoice": BRAND,
        "details": LISTING,
        "hashtags": HASHTAGS,
    }
    return params | overrides


def words(text: str) -> set[str]:
    return {w.rstrip(",.;:!?·") for w in text.split()}


def assert_whole_words(text: str, full: str) -> None:
    """Every word of `text` is a word of `full` (a cut ends at a word boundary, marked with "…")."""
    known = words(full)
    for word in text.split():
        core = word.rstrip("…").rstrip(",.;:!?·-")
        assert not core or core in known or core.rstrip(",.;:!?·") in known, (word, text)


# --- generate_content: templates, tones, limits --------------------------------------------------


@pytest.mark.parametrize("template", ALL_TEMPLATES)
@pytest.mark.parametrize("tone", ALL_TONES)
@pytest.mark.parametrize("platform", [p.value for p in Platform])
def test_every_template_and_tone_fits_every_platform(template: str, tone: str, platform: str) -> None:
    params = listing_params(template=template, tone=tone, platform=platform, topic="Spring on Oak Street")
    out = generate(params)
    full = generate(params | {"platform": None})["text"]
    limit = RULES[Platform(platform)].max_text
    assert out["text"].strip()
    assert out["length"] == text_length(Platform(platform), out["text"]) <= limit
    assert out["limit"] == limit
    assert out["platform"] == platform
    assert (out["template"], out["tone"], out["source"]) == (template, tone, "template")
    max_tags = RULES[Platform(platform)].max_hashtags
    assert max_tags is None or len(out["hashtags"]) <= max_tags
    for tag in out["hashtags"]:
        assert f"#{tag}" in out["text"]
    assert_whole_words(out["text"], full)
    if not out["truncated"]:
        assert "…" not in out["text"]


def test_a_long_listing_on_x_keeps_the_essentials_and_leaves_out_the_rest() -> None:
    out = generate(listing_params(platform="twitter"))
    assert out["length"] <= 280
    assert "12 Oak Street, Springfield" in out["text"]
    assert "$450,000" in out["text"]
    assert LISTING["link"] in out["text"]
    assert "opener" in out["dropped"]
    assert out["hashtags"] == HASHTAGS[: len(out["hashtags"])]
    assert len(out["hashtags"]) <= 3


def test_a_topic_too_long_for_x_is_shortened_at_a_word_boundary() -> None:
    topic = " ".join(["Spacious family home with sweeping views over the bay and the old harbour"] * 6)
    out = generate({"template": "social_post", "topic": topic, "platform": "twitter"})
    assert out["length"] <= 280
    assert out["truncated"] is True
    headline = out["text"].split("\n\n")[0]
    assert headline.endswith("…")
    assert topic.startswith(headline.removesuffix("…"))
    assert topic[len(headline) - 1] == " "  # the cut falls between words


def test_a_cut_never_glues_the_ellipsis_to_a_url() -> None:
    text = "Tour it at https://homes.example/12-oak today and tomorrow"
    assert shorten(text, lambda t: len(t) <= 41) == "Tour it at https://homes.example/12-oak …"
    assert shorten(text, lambda t: len(t) <= 12) == "Tour it at…"
    assert shorten(text, lambda t: len(t) <= 3) is None


def test_x_counts_urls_as_23_and_emoji_as_2() -> None:
    out = generate(listing_params(platform="twitter", tone="enthusiastic"))
    assert out["length"] == text_length(Platform.TWITTER, out["text"])
    assert out["length"] != len(out["text"])
    assert out["length"] <= 280


def test_instagram_never_gets_more_than_30_hashtags() -> None:
    tags = [f"Tag{i}" for i in range(45)]
    out = generate({"template": "social_post", "topic": "Hello", "platform": "instagram", "hashtags": tags})
    assert len(out["hashtags"]) == 30
    assert out["text"].count("#") == 30


def test_tones_change_openers_closers_punctuation_and_emoji() -> None:
    texts = {tone: generate(listing_params(tone=tone))["text"] for tone in ALL_TONES}
    professional, friendly = texts["professional"], texts["friendly"]
    enthusiastic, informative = texts["enthusiastic"], texts["informative"]
    assert professional.startswith("Just listed: 12 Oak Street.")
    assert "We are pleased to present this property." in professional
    assert "Highlights: renovated kitchen with quartz counters, south-facing garden" in professional
    assert "Message us to book a private tour." in professional
    assert friendly.startswith("🏡 Just listed: 12 Oak Street!")
    assert "What you'll love:" in friendly
    assert enthusiastic.startswith("🏡 Just listed: 12 Oak Street!")
    assert "✨ Renovated kitchen with quartz counters" in enthusiastic
    assert "👉 Message us to book a private tour!" in enthusiastic
    assert "Address: 12 Oak Street, Springfield\nPrice: $450,000\nBedrooms: 3\nBathrooms: 2.5" in informative
    assert "Key features:\n- Renovated kitchen" in informative
    assert f"Details: {LISTING['link']}" in informative
    for calm in (professional, informative):
        assert not re.search(r"[\U0001F300-\U0001FAFF]", calm)
        assert not re.search(r"!\s*$", calm, re.MULTILINE)


def test_the_templates_say_different_things() -> None:
    base = {"topic": "Spring on Oak Street", "tone": "professional", "details": LISTING}
    market = generate(base | {"template": "market_update"})["text"]
    assert "The median sale price is $412,500." in market
    assert "Prices are up 3.2% vs. last year." in market
    assert "Homes are selling in 24 days on average." in market
    open_house = generate(base | {"template": "open_house"})["text"]
    assert "When: Saturday, March 14, 1-3 pm" in open_house
    email = generate(base | {"template": "email_newsletter", "brandVoice": BRAND})
    assert email["text"].startswith("Hello,\n\nThis edition covers Spring on Oak Street.")
    assert email["text"].endswith("Kind regards,\nSunny Homes\nYour key to the coast")
    assert email["subject"] == "Spring on Oak Street"
    assert email["hashtags"] == []
    assert "#" not in email["text"]


def test_details_the_template_does_not_use_are_reported() -> None:
    out = generate(
        {"template": "market_update", "topic": "March figures", "details": {"bedrooms": 3, "inventory": 80}}
    )
    assert out["unusedDetails"] == ["bedrooms"]
    assert "There are 80 homes for sale." in out["text"]


def test_brand_voice_as_free_text() -> None:
    signed = generate(
        {"template": "social_post", "topic": "Summer fair", "brandVoice": "Sunny Homes, since 1998"}
    )
    assert signed["text"].endswith("— Sunny Homes, since 1998")
    piped = generate(
        {
            "template": "social_post",
            "topic": "Summer fair",
            "brandVoice": "Sunny Homes | Your key to the coast | See you",
        }
    )
    assert piped["text"].endswith("See you.\n— Sunny Homes · Your key to the coast")
    assert not generate({"template": "social_post", "topic": "Summer fair", "brandVoice": ""})["text"].count(
        "—"
    )


def test_brand_avoid_phrases_are_removed() -> None:
    out = generate(
        {
            "template": "social_post",
            "topic": "Our cheap and cheerful spring sale",
            "brandVoice": {"name": "Sunny Homes", "avoid": ["cheap"]},
        }
    )
    assert "cheap" not in out["text"].lower()
    assert "cheerful spring sale" in out["text"]


def test_the_same_input_gives_the_same_text() -> None:
    assert generate(listing_params(platform="linkedin")) == generate(listing_params(platform="linkedin"))


# --- generate_content: parameters ----------------------------------------------------------------


def test_check_params_explains_each_problem() -> None:
    problems = gc.ACTION.check_params(
        {
            "template": "poem",
            "topic": " ",
            "platform": "myspace",
            "tone": "sarcastic",
            "brandVoice": {"name": 1, "slogan": "x"},
            "details": {"bedrooms": True, "colour": "blue", "link": "not a url", "highlights": [1]},
            "hashtags": "RealEstate",
            "useModel": "yes",
            "extra": 1,
        }
    )
    expected = [
        "unknown parameter 'extra'",
        "template must be one of social_post, listing_post, market_update, open_house, email_newsletter",
        "topic is required",
        "platform must be one of facebook, instagram, twitter, linkedin, youtube, tiktok",
        "tone must be one of professional, friendly, enthusiastic, informative",
        "unknown brandVoice field 'slogan'",
        "brandVoice.name must be text",
        "details.bedrooms must be text or a number",
        "unknown detail 'colour'",
        "details.link must be one http(s) URL",
        "details.highlights must be text or a list of text",
        "hashtags must be a list of text",
        "useModel must be true or false",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)


def test_references_are_accepted_when_a_definition_is_checked() -> None:
    params = {
        "template": "social_post",
        "topic": "${parameters.topic}",
        "platform": "${parameters.platform}",
        "tone": "${parameters.tone}",
        "brandVoice": "${parameters.brandVoice}",
        "details": {"price": "${parameters.price}", "highlights": "${parameters.highlights}"},
        "hashtags": "${parameters.hashtags}",
        "useModel": "${parameters.useModel}",
    }
    assert gc.ACTION.check_params(params) == []


def test_the_built_in_templates_pass_their_parameters_check() -> None:
    for name, given in (
        ("content-to-social", {"topic": "Spring open houses"}),
        ("listing-campaign", {"address": "12 Oak Street", "bedrooms": 3, "highlights": ["garden"]}),
    ):
        template = TEMPLATES[name]
        definition = template.build(template.resolve_parameters(given))
        for step in definition["steps"]:
            if step["action"] == "generate_content":
                assert gc.ACTION.check_params(step["parameters"]) == [], step["id"]


def test_run_refuses_bad_parameters_permanently() -> None:
    with pytest.raises(ActionFailed) as failure:
        generate({"template": "listing_post"})
    assert failure.value.code == "invalid_parameters"
    assert failure.value.retryable is False


# --- generate_content: gate feedback -------------------------------------------------------------


def gate_reasons(rules: dict[str, Any], output: dict[str, Any]) -> list[str]:
    gate = {"type": "validation", "rules": rules}
    return gates.evaluate(gate, output, http=None, settings=Settings()).reasons


def fix_loop(params: dict[str, Any], rules: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Generate, hold to the gate, generate again with its reasons: (first reasons, second output)."""
    first = generate(params)
    reasons = gate_reasons(rules, first)
    assert reasons, "the first draft should fail the gate"
    second = generate(params, feedback=tuple(reasons))
    assert gate_reasons(rules, second) == [], second["text"]
    assert second["feedbackApplied"] == reasons
    return reasons, second


def test_banned_phrases_are_removed_after_feedback() -> None:
    params = listing_params(
        topic="Just listed: guaranteed returns on 12 Oak Street",
        details=LISTING | {"highlights": ["Perfect for singles", "south-facing garden", "ADULTS ONLY pool"]},
        tone="friendly",
    )
    reasons, fixed = fix_loop(params, {"bannedPhrases": FAIR_HOUSING_PHRASES})
    assert reasons == [
        'contains banned phrase "adults only"',
        'contains banned phrase "perfect for singles"',
        'contains banned phrase "guaranteed returns"',
    ]
    assert "south-facing garden" in fixed["text"]
    assert "pool" in fixed["text"]


def test_too_long_feedback_shortens_to_fit() -> None:
    reasons, fixed = fix_loop(listing_params(platform="facebook"), {"maxLength": 200})
    assert reasons[0].startswith("text is ")
    assert reasons[0].endswith("; at most 200 allowed")
    assert len(fixed["text"]) <= 200
    assert fixed["dropped"]


def test_too_short_feedback_adds_the_template_sentence() -> None:
    reasons, fixed = fix_loop({"template": "social_post", "topic": "Open today"}, {"minLength": 60})
    assert reasons == ["text is 38 characters; at least 60 required"]
    assert "Follow us for more local updates." in fixed["text"]


def test_missing_field_feedback_includes_the_detail_and_sets_the_field() -> None:
    params = listing_params(platform="twitter")
    rules = {"requiredFields": ["text", "price", "details.bedrooms", "hashtags"]}
    first = generate(params | {"hashtags": []})
    assert gate_reasons(rules, first) == [
        "missing field price",
        "missing field details.bedrooms",
        "missing field hashtags",
    ]
    fixed = generate(params | {"hashtags": []}, feedback=tuple(gate_reasons(rules, first)))
    assert gate_reasons(rules, fixed) == []
    assert fixed["price"] == 450000
    assert fixed["details"] == {"bedrooms": 3}
    assert fixed["hashtags"] == ["RealEstate", "JustListed", "Springfield"]
    assert "$450,000" in fixed["text"]
    assert "3 bedrooms" in fixed["text"]
    assert fixed["length"] <= 280


def test_a_detail_a_gate_asks_for_that_does_not_exist_fails_clearly() -> None:
    with pytest.raises(ActionFailed) as failure:
        generate(listing_params(details={"address": "12 Oak Street"}), feedback=("missing field price",))
    assert failure.value.code == "missing_detail"
    assert failure.value.retryable is False
    assert "details has no price" in failure.value.message


def test_link_feedback_keeps_the_link_whatever_the_limit() -> None:
    feedback = ("text must contain a link", "text is 400 characters; at most 120 allowed")
    out = generate(listing_params(), feedback=feedback)
    assert LISTING["link"] in out["text"]
    assert len(out["text"]) <= 120
    assert gate_reasons({"requireLink": True, "maxLength": 120}, out) == []
    with pytest.raises(ActionFailed, match="link"):
        generate({"template": "social_post", "topic": "Hi"}, feedback=("text must contain a link",))


def test_broken_link_feedback_removes_the_link() -> None:
    url = LISTING["link"]
    out = generate(listing_params(), feedback=(gates.broken_link(url, "answered 404"),))
    assert url not in out["text"]
    assert "Call 555-0100" in out["text"]


def test_toxicity_feedback_removes_listed_words_and_calms_the_tone() -> None:
    params = {
        "template": "social_post",
        "topic": "Stop paying stupid rent to idiot landlords",
        "tone": "enthusiastic",
        "details": {"highlights": ["damn good kitchen", "big garden"]},
    }
    reasons, fixed = fix_loop(params, {"maxToxicity": 0.1})
    assert reasons[0].startswith("toxicity is ")
    assert fixed["tone"] == "professional"
    assert gates.toxicity(fixed["text"]).score == 0
    assert "landlords" in fixed["text"]
    assert "garden" in fixed["text"]


def test_feedback_it_cannot_act_on_is_reported() -> None:
    feedback = (
        "please make it punchier",
        "body is 50 characters; at most 10 allowed",
        "dataPoints is 3; must be >= 10",
    )
    out = generate({"template": "social_post", "topic": "Hi"}, feedback=feedback)
    assert out["feedbackIgnored"] == list(feedback)
    assert out["feedbackApplied"] == []


def test_the_content_to_social_quality_rules_pass_for_every_tone() -> None:
    rules = {
        "requiredFields": ["text"],
        "minLength": 20,
        "bannedPhrases": FAIR_HOUSING_PHRASES,
        "maxToxicity": 0.2,
    }
    for template in ALL_TEMPLATES:
        for tone in ALL_TONES:
            out = generate(listing_params(template=template, tone=tone, platform="twitter"))
            assert gate_reasons(rules, out) == [], (template, tone)


# --- generate_content: the model -----------------------------------------------------------------


class FakeBedrock:
    def __init__(
        self, reply: str | None = None, error: Exception | None = None, stop: str = "end_turn"
    ) -> None:
        self.reply = reply
        self.error = error
        self.stop = stop
        self.calls: list[dict[str, Any]] = []

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        content = [{"reasoningContent": {"reasoningText": {"text": "thinking"}}}]
        if self.reply is not None:
            content.append({"text": self.reply})
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": self.stop,
            "usage": {"inputTokens": 100, "outputTokens": 50, "totalTokens": 150},
        }


MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
WITH_MODEL = Settings(bedrock_model_id=MODEL)


def test_the_model_writes_the_body_and_the_rest_is_added() -> None:
    bedrock = FakeBedrock(
        '"Sunlit rooms, a quartz kitchen and a garden that faces south: 12 Oak Street is ready."'
    )
    out = generate(listing_params(platform="linkedin", useModel=True), settings=WITH_MODEL, bedrock=bedrock)
    assert out["source"] == "bedrock"
    assert out["modelId"] == MODEL
    assert out["text"].startswith("Sunlit rooms, a quartz kitchen")
    assert LISTING["link"] in out["text"]
    assert out["text"].endswith("#RealEstate #JustListed #Springfield #HomeForSale #DreamHome #CoastalLiving")
    [call] = bedrock.calls
    assert set(call) == {"modelId", "messages", "system", "inferenceConfig"}
    assert call["modelId"] == MODEL
    assert call["messages"][0]["role"] == "user"
    prompt = call["messages"][0]["content"][0]["text"]
    assert "Topic: Just listed: 12 Oak Street" in prompt
    assert "- Price: $450,000" in prompt
    assert "Business name: Sunny Homes" in prompt
    assert "for linkedin" in prompt
    assert "Tone: professional" in call["system"][0]["text"]
    assert set(call["inferenceConfig"]) == {"maxTokens", "temperature"}
    assert call["inferenceConfig"]["temperature"] == TONES["professional"].temperature


def test_model_text_is_held_to_the_platform_limit_and_the_feedback() -> None:
    long_reply = "Guaranteed returns! " + " ".join(["A bright and airy family home close to parks."] * 20)
    bedrock = FakeBedrock(long_reply)
    feedback = ('contains banned phrase "guaranteed returns"',)
    out = generate(
        listing_params(platform="twitter", useModel=True),
        settings=WITH_MODEL,
        bedrock=bedrock,
        feedback=feedback,
    )
    assert out["length"] <= 280
    assert "guaranteed returns" not in out["text"].lower()
    assert out["truncated"] is True
    prompt = bedrock.calls[0]["messages"][0]["content"][0]["text"]
    assert 'Never use these phrases: "guaranteed returns"' in prompt
    assert "- contains banned phrase" in prompt


def test_no_model_configured_fails_and_never_falls_back() -> None:
    with pytest.raises(ActionFailed) as failure:
        generate(listing_params(useModel=True), settings=Settings(bedrock_model_id=""), bedrock=_unused)
    assert failure.value.code == "model_not_configured"
    assert "TIDINGS_BEDROCK_MODEL_ID" in failure.value.message
    assert failure.value.retryable is False


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 429, True),
        ("ServiceUnavailableException", 503, True),
        ("InternalServerException", 500, True),
        ("ModelNotReadyException", 429, True),
        ("ValidationException", 400, False),
        ("AccessDeniedException", 403, False),
        ("ResourceNotFoundException", 404, False),
    ],
)
def test_bedrock_errors_are_classified(code: str, status: int, retryable: bool) -> None:
    bedrock = FakeBedrock(error=client_error(code, status))
    with pytest.raises(ActionFailed) as failure:
        generate(listing_params(useModel=True), settings=WITH_MODEL, bedrock=bedrock)
    assert failure.value.retryable is retryable
    assert code in failure.value.message


def test_bedrock_unreachable_is_retryable() -> None:
    bedrock = FakeBedrock(error=EndpointConnectionError(endpoint_url="https://bedrock-runtime.example"))
    with pytest.raises(ActionFailed) as failure:
        generate(listing_params(useModel=True), settings=WITH_MODEL, bedrock=bedrock)
    assert failure.value.retryable is True


def test_a_model_refusal_or_empty_reply_is_a_failure() -> None:
    with pytest.raises(ActionFailed) as refused:
        generate(
            listing_params(useModel=True),
            settings=WITH_MODEL,
            bedrock=FakeBedrock("x", stop="guardrail_intervened"),
        )
    assert refused.value.code == "model_refused"
    with pytest.raises(ActionFailed) as empty:
        generate(listing_params(useModel=True), settings=WITH_MODEL, bedrock=FakeBedrock(None))
    assert empty.value.code == "model_empty"


# --- validate_content ----------------------------------------------------------------------------


RULES_FOR_TEXT = {"minLength": 10, "maxLength": 80, "bannedPhrases": ["no kids"], "maxToxicity": 0.2}


def test_validate_content_reports_and_never_fails_on_content() -> None:
    action = ValidateContent()
    good = action.run(make_ctx(), {"text": "Sunny two-bed flat with a balcony.", "rules": RULES_FOR_TEXT})
    assert good == {
        "valid": True,
        "problems": [],
        "toxicity": 0.0,
        "length": 34,
        "toxicTerms": [],
        "links": [],
    }
    bad = action.run(make_ctx(), {"text": "No kids, you idiots. " * 5, "rules": RULES_FOR_TEXT})
    assert bad["valid"] is False
    assert bad["problems"][:2] == [
        "text is 105 characters; at most 80 allowed",
        'contains banned phrase "no kids"',
    ]
    assert bad["problems"][2].startswith("toxicity is ")
    assert bad["toxicity"] > 0.2


def test_validate_content_checks_links_through_the_services_client() -> None:
    action = ValidateContent(resolve=lambda host: [PUBLIC])
    http = client(lambda request: httpx.Response(404 if request.url.path == "/old" else 200))
    out = action.run(
        make_ctx(http=http),
        {
            "text": "New https://homes.example/new and old https://homes.example/old",
            "rules": {"checkLinks": True},
        },
    )
    assert out["problems"] == ["broken link https://homes.example/old (answered 404)"]


def test_validate_content_fails_permanently_on_bad_parameters() -> None:
    action = ValidateContent()
    assert action.check_params({"text": "${steps.draft.output.text}", "rules": {"maxLength": 10}}) == []
    problems = action.check_params({"text": 5, "rules": {"maxLenght": 10}, "extra": True})
    assert "unknown parameter 'extra'" in problems
    assert "text must be a string" in problems
    assert any("unknown rule 'maxLenght'" in p for p in problems)
    with pytest.raises(ActionFailed) as failure:
        action.run(make_ctx(), {"text": "hi", "rules": {"maxToxicity": 3}})
    assert failure.value.code == "invalid_parameters"
    assert failure.value.retryable is False


# --- send_notification: webhook ------------------------------------------------------------------


class Recorder:
    def __init__(self, status: int = 200, error: Exception | None = None) -> None:
        self.status = status
        self.error = error
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error:
            raise self.error
        return httpx.Response(self.status)


def webhook(
    recorder: Recorder,
    url: str = "https://hooks.example/tidings",
    *,
    addresses: list[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    action = SendNotification(resolve=lambda host: addresses if addresses is not None else [PUBLIC])
    ctx = make_ctx(http=client(recorder), settings=settings)
    return action.run(ctx, {"channel": "webhook", "url": url, "payload": {"title": "Report", "posts": 12}})


def test_webhook_posts_json_with_the_tidings_headers() -> None:
    recorder = Recorder(202)
    assert webhook(recorder) == {"channel": "webhook", "delivered": True, "status": 202}
    [request] = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://hooks.example/tidings"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"tidings/{__version__}"
    assert request.headers["Tidings-Event"] == "workflow.notification"
    assert request.headers["Tidings-Delivery"] == "wf-1/step-1"
    assert json.loads(request.content) == {"title": "Report", "posts": 12}


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (503, True), (408, True), (404, False), (400, False)]
)
def test_webhook_status_classification(status: int, retryable: bool) -> None:
    with pytest.raises(ActionFailed) as failure:
        webhook(Recorder(status))
    assert failure.value.retryable is retryable
    assert failure.value.code == "webhook_failed"
    assert str(status) in failure.value.message


def test_webhook_redirects_are_not_followed() -> None:
    recorder = Recorder(301)
    with pytest.raises(ActionFailed, match="redirects are not followed") as failure:
        webhook(recorder)
    assert failure.value.retryable is False
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")]
)
def test_webhook_transport_failures_are_retryable(error: Exception) -> None:
    with pytest.raises(ActionFailed) as failure:
        webhook(Recorder(error=error))
    assert failure.value.retryable is True
    assert failure.value.code == "webhook_unreachable"


@pytest.mark.parametrize(
    ("url", "addresses", "reason"),
    [
        ("https://hooks.example/x", ["10.0.0.7"], "(private address)"),
        ("https://hooks.example/x", [PUBLIC, "127.0.0.1"], "(loopback address)"),
        ("https://169.254.169.254/latest", [], "(link-local address)"),
        ("https://[::1]:8443/hook", [], "(loopback address)"),
        ("https://localhost/hook", [PUBLIC], "(local host name)"),
    ],
)
def test_webhook_refuses_non_public_addresses_before_any_request(
    url: str, addresses: list[str], reason: str
) -> None:
    recorder = Recorder()
    with pytest.raises(ActionFailed) as failure:
        webhook(recorder, url, addresses=addresses)
    assert failure.value.code == "url_refused"
    assert failure.value.retryable is False
    assert reason in failure.value.message
    assert recorder.requests == []


def test_webhook_refuses_plain_http() -> None:
    recorder = Recorder()
    with pytest.raises(ActionFailed, match="https") as failure:
        webhook(recorder, "http://hooks.example/x")
    assert failure.value.code == "url_refused"
    assert recorder.requests == []


def test_private_and_http_webhooks_are_allowed_in_development() -> None:
    recorder = Recorder(200)
    out = webhook(recorder, "http://127.0.0.1:8080/hook", settings=Settings(allow_private_links=True))
    assert out["delivered"] is True
    assert len(recorder.requests) == 1


def test_an_unknown_webhook_host_is_retryable() -> None:
    def missing(host: str) -> list[str]:
        raise OSError("Name or service not known")

    action = SendNotification(resolve=missing)
    with pytest.raises(ActionFailed) as failure:
        action.run(
            make_ctx(http=client(Recorder())),
            {"channel": "webhook", "url": "https://x.example", "payload": {}},
        )
    assert failure.value.retryable is True


def test_webhook_parameters_are_checked() -> None:
    action = SendNotification()
    assert action.check_params({"channel": "sms"}) == ["channel must be one of webhook, email"]
    problems = action.check_params({"channel": "webhook", "url": "ftp://x", "payload": [1], "to": ["a@b.co"]})
    assert problems == [
        "unknown parameter 'to' for webhook",
        "url must be an http(s) URL",
        "payload must be an object",
    ]
    assert (
        action.check_params(
            {"channel": "webhook", "url": "${parameters.deliverTo}", "payload": "${steps.r.output}"}
        )
        == []
    )


# --- send_notification: e-mail -------------------------------------------------------------------


class FakeSes:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def send_email(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return {"MessageId": "0100018f-abc"}


SENDER = Settings(notification_from_email="reports@sunnyhomes.example")
EMAIL = {
    "channel": "email",
    "to": ["owner@sunnyhomes.example"],
    "subject": "Your report",
    "body": "# Report\n\nAll good.",
}


def test_email_goes_through_ses_v2() -> None:
    ses = FakeSes()
    out = SendNotification().run(make_ctx(ses=ses, settings=SENDER), EMAIL)
    assert out == {"channel": "email", "delivered": True, "messageId": "0100018f-abc"}
    assert ses.calls == [
        {
            "FromEmailAddress": "reports@sunnyhomes.example",
            "Destination": {"ToAddresses": ["owner@sunnyhomes.example"]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Your report", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": "# Report\n\nAll good.", "Charset": "UTF-8"}},
                }
            },
        }
    ]


def test_email_without_a_sender_is_not_configured() -> None:
    with pytest.raises(ActionFailed) as failure:
        SendNotification().run(make_ctx(ses=_unused), EMAIL)
    assert failure.value.code == "email_not_configured"
    assert "TIDINGS_NOTIFICATION_FROM_EMAIL" in failure.value.message


def test_email_to_an_address_the_user_did_not_confirm_is_refused_and_nothing_is_sent() -> None:
    ses = FakeSes()
    with pytest.raises(ActionFailed) as failure:
        SendNotification().run(
            make_ctx(ses=ses, settings=SENDER),
            EMAIL | {"to": ["owner@sunnyhomes.example", "someone@elsewhere.example"]},
        )
    assert (failure.value.code, failure.value.retryable) == ("recipient_unconfirmed", False)
    assert "someone@elsewhere.example" in failure.value.message
    assert ses.calls == []


def test_email_beyond_the_users_hourly_count_waits_for_the_next_hour() -> None:
    ses = FakeSes()
    ctx = make_ctx(ses=ses, settings=SENDER, per_hour=2)
    SendNotification().run(ctx, EMAIL)
    SendNotification().run(ctx, EMAIL)
    with pytest.raises(ActionFailed) as failure:
        SendNotification().run(ctx, EMAIL)
    assert (failure.value.code, failure.value.retryable) == ("notification_rate_limited", True)
    assert len(ses.calls) == 2


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (client_error("TooManyRequestsException", 429, "SendEmail"), True),
        (client_error("InternalFailure", 500, "SendEmail"), True),
        (client_error("MessageRejected", 400, "SendEmail"), False),
        (client_error("MailFromDomainNotVerifiedException", 400, "SendEmail"), False),
        (client_error("SendingPausedException", 400, "SendEmail"), False),
        (EndpointConnectionError(endpoint_url="https://email.example"), True),
    ],
)
def test_ses_errors_are_classified(error: Exception, retryable: bool) -> None:
    with pytest.raises(ActionFailed) as failure:
        SendNotification().run(make_ctx(ses=FakeSes(error), settings=SENDER), EMAIL)
    assert failure.value.retryable is retryable


def test_email_parameters_are_checked() -> None:
    action = SendNotification()
    problems = action.check_params(
        {
            "channel": "email",
            "to": ["owner@example.com", "not-an-address", "a@b..com"],
            "subject": "",
            "body": 3,
        }
    )
    assert problems == [
        "'not-an-address' is not a valid e-mail address",
        "'a@b..com' is not a valid e-mail address",
        "subject is required for an email",
        "body is required for an email",
    ]
    assert action.check_params({"channel": "email", "to": [], "subject": "s", "body": "b"}) == [
        "to must be a non-empty list of e-mail addresses"
    ]
    many = [f"user{i}@example.com" for i in range(51)]
    assert action.check_params({"channel": "email", "to": many, "subject": "s", "body": "b"}) == [
        "to has more than 50 addresses"
    ]
    with pytest.raises(ActionFailed) as failure:
        action.run(make_ctx(), {"channel": "email", "to": ["nope"], "subject": "s", "body": "b"})
    assert failure.value.code == "invalid_parameters"


def test_a_multi_line_subject_is_sent_as_one_line() -> None:
    ses = FakeSes()
    SendNotification().run(
        make_ctx(ses=ses, settings=SENDER), EMAIL | {"subject": "Report\r\nBcc: x@evil.example"}
    )
    assert ses.calls[0]["Content"]["Simple"]["Subject"]["Data"] == "Report Bcc: x@evil.example"


# --- analytics report ----------------------------------------------------------------------------


class FakeAnalytics:
    def __init__(self, samples: list[EngagementSample]) -> None:
        self.data = samples
        self.reads: list[tuple[str, Platform, int]] = []

    def samples(self, user_id: str, platform: Platform, limit: int = 2000) -> list[EngagementSample]:
        self.reads.append((user_id, platform, limit))
        mine = sorted((s for s in self.data if s.platform == platform), key=lambda s: s.published_at)
        return mine[::-1][:limit]  # the newest `limit` posts


def synthetic() -> list[EngagementSample]:
    """28 days to NOW (Monday 2 February to Sunday 1 March 2026): a post every day at 13:00 UTC
    (engagement 10, doubling to 20 in the second half) and every Tuesday an extra post at 18:00 with 60."""
    start = NOW - timedelta(days=28)
    out = []
    for day in range(28):
        moment = (start + timedelta(days=day)).replace(hour=13, minute=0)
        out.append(EngagementSample(Platform.FACEBOOK, moment, 10.0 if day < 14 else 20.0, reach=200.0))
        if moment.weekday() == 1:
            out.append(EngagementSample(Platform.FACEBOOK, moment.replace(hour=18), 60.0, reach=300.0))
    out.append(EngagementSample(Platform.FACEBOOK, NOW - timedelta(days=40), 999.0))  # outside the window
    out.append(EngagementSample(Platform.INSTAGRAM, NOW - timedelta(days=2), 5.0))
    return out


def test_gather_analytics_counts_what_is_in_the_window() -> None:
    repo = FakeAnalytics(synthetic())
    out = report.GATHER_ANALYTICS.run(
        make_ctx(analytics=repo), {"platforms": ["facebook", "instagram"], "days": 28}
    )
    facebook, instagram = out["platforms"]["facebook"], out["platforms"]["instagram"]
    assert out["dataPoints"] == 28 + 4 + 1
    assert facebook["count"] == 32
    assert facebook["totalEngagement"] == 14 * 10 + 14 * 20 + 4 * 60
    assert facebook["meanEngagement"] == round(660 / 32, 4)
    assert facebook["medianEngagement"] == 20.0
    assert facebook["postsWithReach"] == 32
    assert facebook["meanReach"] == round((28 * 200 + 4 * 300) / 32, 4)
    assert sum(c for c, _ in facebook["byWeekday"]) == 32
    assert facebook["byHour"][18] == [4, 240.0]
    assert instagram["count"] == 1
    assert instagram["meanReach"] is None
    assert out["window"] == {
        "from": "2026-02-02T12:00:00.000Z",
        "to": "2026-03-02T12:00:00.000Z",
        "days": 28,
        "timezone": "UTC",
    }
    assert [r[1] for r in repo.reads] == [Platform.FACEBOOK, Platform.INSTAGRAM]
    published = [s["publishedAt"] for s in out["samples"]]
    assert published == sorted(published, reverse=True)
    assert out["samplesTruncated"] is False


def test_gather_analytics_parameters() -> None:
    action = report.GATHER_ANALYTICS
    assert action.check_params({"platforms": "${parameters.platforms}", "days": "${parameters.days}"}) == []
    assert action.check_params({"platforms": ["facebook"], "days": 30, "timezone": "Europe/Lisbon"}) == []
    problems = action.check_params({"platforms": ["myspace"], "days": 3, "timezone": "Mars/Olympus"})
    assert problems == [
        "unknown platform 'myspace'; expected one of facebook, instagram, twitter, linkedin, youtube, tiktok",
        "days must be a whole number from 7 to 365",
        "unknown timezone 'Mars/Olympus'",
    ]
    assert action.check_params({"platforms": [], "days": True}) == [
        "platforms must be a non-empty list",
        "days must be a whole number from 7 to 365",
    ]
    with pytest.raises(ActionFailed) as failure:
        action.run(make_ctx(analytics=FakeAnalytics([])), {"platforms": ["facebook"], "days": 400})
    assert failure.value.code == "invalid_parameters"


def test_trends_on_synthetic_data() -> None:
    ctx = make_ctx(analytics=FakeAnalytics(synthetic()))
    gathered = report.GATHER_ANALYTICS.run(ctx, {"platforms": ["facebook", "instagram"], "days": 28})
    trends = report.COMPUTE_TRENDS.run(ctx, {"analytics": gathered})
    facebook = trends["platforms"]["facebook"]
    halves = facebook["halves"]
    # first half: 14 posts at 10 and two Tuesday posts at 60; second half: 14 at 20 and two at 60
    assert halves["previous"] == {"posts": 16, "meanEngagement": round(260 / 16, 4)}
    assert halves["current"] == {"posts": 16, "meanEngagement": round(400 / 16, 4)}
    assert halves["changePct"] == round((400 / 16 - 260 / 16) / (260 / 16) * 100, 1)
    assert halves["confidence"] == "medium"
    assert facebook["weekOverWeek"]["previous"]["posts"] == 8
    # the last 7 days (24 February to 2 March): 6 posts at 20 and one Tuesday post; the 7 before: 7 and 1
    assert facebook["weekOverWeek"]["current"]["posts"] == 7
    assert facebook["weekOverWeek"]["changePct"] == round(((180 / 7) - 25) / 25 * 100, 1)
    assert facebook["bestWeekday"]["weekday"] == "Tuesday"
    assert facebook["bestWeekday"]["posts"] == 8
    assert facebook["bestWeekday"]["confidence"] == "low"
    assert facebook["bestHour"]["hour"] == 18
    assert facebook["bestHour"]["meanEngagement"] == 60.0
    assert trends["platforms"]["instagram"]["bestHour"] is None  # one post: no hour has 3
    assert trends["platforms"]["instagram"]["halves"]["confidence"] == "none"
    assert "Only 1 analysed Instagram posts: each Instagram figure is a rough sign." in trends["notes"]
    kinds = [(f["platform"], f["kind"]) for f in trends["findings"]]
    assert ("facebook", "halves") in kinds
    assert ("all platforms", "bestHour") in kinds
    tuesday = next(
        f for f in trends["findings"] if f["kind"] == "bestWeekday" and f["platform"] == "facebook"
    )
    assert "treat it as a hint" in tuesday["text"]


def test_week_over_week_needs_two_weeks() -> None:
    ctx = make_ctx(analytics=FakeAnalytics(synthetic()))
    gathered = report.GATHER_ANALYTICS.run(ctx, {"platforms": ["facebook"], "days": 7})
    trends = report.COMPUTE_TRENDS.run(ctx, {"analytics": gathered})
    assert trends["platforms"]["facebook"]["weekOverWeek"] is None
    assert "Week-over-week changes need a period of 14 days or more." in trends["notes"]


def test_compute_trends_refuses_what_is_not_gathered_analytics() -> None:
    gathered = report.GATHER_ANALYTICS.run(
        make_ctx(analytics=FakeAnalytics(synthetic())), {"platforms": ["facebook"], "days": 28}
    )
    broken = json.loads(json.dumps(gathered))
    broken["platforms"]["facebook"]["byDay"] = {"yesterday": [1, 2]}
    for bad in (
        broken,
        {"dataPoints": 3},
        {"platforms": {"facebook": {"count": 2}}, "window": {"from": "x", "to": "y"}},
    ):
        with pytest.raises(ActionFailed) as failure:
            report.COMPUTE_TRENDS.run(make_ctx(), {"analytics": bad})
        assert failure.value.code == "invalid_parameters"


def test_the_report_on_real_engagement_data() -> None:
    samples = live_seller_samples()  # Facebook Live sellers, read as Asia/Bangkok local time
    last = max(s.published_at for s in samples)
    repo = FakeAnalytics(samples)
    ctx = make_ctx(analytics=repo, now=last + timedelta(hours=1))
    params = {"platforms": ["facebook"], "days": 90, "timezone": "Asia/Bangkok"}
    gathered = report.GATHER_ANALYTICS.run(ctx, params)
    in_window = [s for s in samples if s.published_at >= last + timedelta(hours=1, days=-90)]
    assert gathered["dataPoints"] == len(in_window) > 500
    assert len(gathered["samples"]) == 500
    assert gathered["samplesTruncated"] is True
    facebook = gathered["platforms"]["facebook"]
    assert facebook["readLimitReached"] is True  # the fake honours the 2,000-post read cap
    assert sum(c for c, _ in facebook["byHour"]) == facebook["count"]
    trends = report.COMPUTE_TRENDS.run(ctx, {"analytics": gathered})
    result = trends["platforms"]["facebook"]
    assert result["halves"]["confidence"] == "high"
    assert result["bestWeekday"]["posts"] >= 30
    assert any("very uneven" in note for note in trends["notes"])  # a few viral live videos dominate
    drafted = report.DRAFT_REPORT.run(
        ctx, {"trends": trends, "title": "Spring engagement", "brandVoice": BRAND}
    )
    markdown = drafted["markdown"]
    assert markdown.startswith("# Spring engagement\n\n_")
    assert f"| Facebook | {facebook['count']} |" in markdown
    assert f"{gathered['dataPoints']} analysed posts on Facebook" in drafted["summary"]
    assert [s["heading"] for s in drafted["sections"]] == [
        "Summary",
        "Activity by platform",
        "Trends",
        "When your audience engages",
        "About this data",
    ]
    assert markdown.rstrip().endswith("_Prepared by Sunny Homes · Your key to the coast_")


def test_a_report_with_no_posts_says_so() -> None:
    ctx = make_ctx(analytics=FakeAnalytics([]))
    gathered = report.GATHER_ANALYTICS.run(ctx, {"platforms": ["tiktok"], "days": 30})
    trends = report.COMPUTE_TRENDS.run(ctx, {"analytics": gathered})
    drafted = report.DRAFT_REPORT.run(ctx, {"trends": trends, "title": "Quiet month"})
    assert "nothing to report yet" in drafted["summary"]
    assert "No analysed Tiktok posts in the period." in drafted["markdown"]
    with pytest.raises(ActionFailed):
        report.DRAFT_REPORT.run(ctx, {"trends": {"x": 1}, "title": "Quiet month"})


def test_the_market_analysis_template_runs_end_to_end() -> None:
    template = TEMPLATES["market-analysis-report"]
    parameters = template.resolve_parameters(
        {"deliverTo": "owner@sunnyhomes.example", "platforms": ["facebook"]}
    )
    definition = template.build(parameters)
    ses = FakeSes()
    ctx = make_ctx(analytics=FakeAnalytics(synthetic()), ses=ses, settings=SENDER)
    actions = {a.name: a for a in (*report.ACTIONS, SendNotification())}
    outputs: dict[str, Any] = {}
    for step in definition["steps"]:
        action = actions[step["action"]]
        assert action.check_params(step["parameters"]) == [], step["id"]
        outputs[step["id"]] = action.run(ctx, resolve(step["parameters"], parameters, outputs))
        for gate in step.get("gates", []):
            assert gates.evaluate(gate, outputs[step["id"]], http=None, settings=SENDER).passed
    assert outputs["deliver"]["messageId"] == "0100018f-abc"
    sent = ses.calls[0]["Content"]["Simple"]
    assert sent["Subject"]["Data"] == "Your social media market report"
    assert sent["Body"]["Text"]["Data"] == outputs["report"]["markdown"]
