"""generate_content: post copy from a built-in template (deterministic) or from an Amazon Bedrock model.

Parameters
    ``template`` (social_post, listing_post, market_update, open_house, email_newsletter), ``topic``,
    optional ``platform`` (the text then fits its limit, ``tidings.core.platforms.RULES``, measured as the
    platform measures it: X weighs URLs as 23 and wide characters as 2), ``tone`` (below, default
    professional), ``brandVoice``, ``details`` (``DETAILS``), ``hashtags`` and ``useModel`` (default false).

Output
    ``{"text", "hashtags", "platform", "length", "limit", "template", "tone", "source": "template" |
    "bedrock", "modelId"?, "subject"? (email_newsletter), "truncated", "dropped", "feedbackApplied",
    "feedbackIgnored", "unusedDetails"}``. ``hashtags`` are those that made it into the text (an email
    carries none); ``dropped`` names the parts left out to fit; ``truncated`` is true when a part was
    shortened (always at a word boundary, marked with "…").

Tones (what each changes)
    - professional: the headline ends with "."; no emoji; a "!" ending a sentence you wrote becomes ".";
      highlights as one "Highlights: a, b and c." sentence; formal openers and closers.
    - friendly: the template's emoji before the headline, which ends with "!" (one emoji in all); a
      warm opener and closer; highlights as "What you'll love: a, b and c."
    - enthusiastic: headline emoji and "!"; each highlight on its own line after "✨"; the call to
      action starts with "👉" and ends with "!".
    - informative: no emoji, no "!" endings; facts as "Label: value" lines; highlights as "- " lines
      after "Key features:"; straight to the facts (no opener on listings and open houses).
    Market updates and newsletters call highlights "Key points" ("What this means for you" when
    friendly); a newsletter always lists them on lines. Templates' openers and closers: ``OPENERS``,
    ``CLOSERS``.

Brand voice
    An object ``{"name", "tagline", "phrases": [...], "avoid": [...]}``: name and tagline sign the post
    ("— Name · Tagline", or the e-mail sign-off), the first two phrases are lines before the
    signature, ``avoid`` phrases are removed like banned phrases. A string is free text: "Name | Tagline |
    phrase, phrase" when it has "|", otherwise it signs the post as written. Empty means no brand.

Fitting a limit, in this order until the text fits
    hashtags beyond the platform's maximum are never used; then hashtags beyond the first three go;
    then parts are left out, least important first (brand phrases, the opener, later highlights, the
    size, the signature, the call to action, rooms, phone); then the remaining hashtags; then the link,
    the market figures, the date, the price and the address (never the headline, nor a part a gate
    asked for); then the headline or body is shortened at a word boundary with "…"; last, the whole
    text is cut at a word boundary with "…" (a URL is kept whole or dropped, never cut).

Feedback understood (``ctx.feedback``, the reasons a gate gave; see ``tidings.workflows.gates``)
    - ``contains banned phrase "X"``: X is removed wherever it appears (whole phrase, any case);
    - ``text is N characters; at most M allowed``: the text is fitted to M characters as well;
    - ``text is N characters; at least M required``: the template's extra sentence is added;
    - ``missing field X``: ``hashtags`` gets the template's default hashtags; any other X is taken from
      ``details`` (its last path segment), kept in the text whatever the limit and copied into the
      output at path X; when ``details`` has no such value the step fails (code ``missing_detail``);
    - ``text must contain a link``: ``details.link`` is kept whatever the limit (or ``missing_detail``);
    - ``broken link URL (why)``: that URL is removed;
    - ``toxicity is S; at most M allowed``: words of the toxicity word list are removed from every
      part and the tone falls back to professional.
    Anything else is listed in ``feedbackIgnored`` (and, with a model, still shown to the model).

The model path (``useModel: true``)
    Calls Bedrock's Converse API with the model in ``TIDINGS_BEDROCK_MODEL_ID``; no model configured is
    a failure (``model_not_configured``), never a silent fall-back to the template. The model writes the
    body; the link, hashtags and anything a gate asked for are added, and the result goes through the
    same removals and fitting as template text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tidings.core.config import Settings
from tidings.core.platforms import RULES, Platform, text_length
from tidings.workflows.actions.base import ActionContext, ActionFailed, is_reference
from tidings.workflows.gates import FEEDBACK_PATTERNS, find_links, phrase_pattern, toxicity

PARAMS = ("template", "topic", "platform", "tone", "brandVoice", "details", "hashtags", "useModel")
PLATFORMS = tuple(p.value for p in Platform)
MAX_TOPIC = 500
MAX_HASHTAGS_GIVEN = 60
ELLIPSIS = "…"
_ENDS_WITH_URL = re.compile(r"https?://\S+$", re.IGNORECASE)


@dataclass(frozen=True)
class TemplateSpec:
    description: str
    emoji: str
    fallback_headline: str
    hashtags: tuple[str, ...]
    extra: str  # added when a gate asks for a longer text
    facts: bool  # uses the listing facts (address, price, rooms...)
    stats: bool  # uses the market figures


TEMPLATES: dict[str, TemplateSpec] = {
    "social_post": TemplateSpec(
        "a short social media post",
        "💬",
        "News from our team",
        ("SmallBusiness", "Local"),
        "Follow us for more local updates.",
        facts=True,
        stats=False,
    ),
    "listing_post": TemplateSpec(
        "a social media post presenting a property for sale or rent",
        "🏡",
        "New listing",
        ("RealEstate", "JustListed"),
        "Photos and full details are available on request.",
        facts=True,
        stats=False,
    ),
    "market_update": TemplateSpec(
        "a social media post summarising the local real-estate market",
        "📈",
        "Local market update",
        ("RealEstate", "MarketUpdate"),
        "Every neighborhood moves differently, so ask us about yours.",
        facts=False,
        stats=True,
    ),
    "open_house": TemplateSpec(
        "a social media post inviting people to an open house",
        "🚪",
        "Open house",
        ("OpenHouse", "RealEstate"),
        "Bring your questions; we will be on site to answer them.",
        facts=True,
        stats=False,
    ),
    "email_newsletter": TemplateSpec(
        "the body of an e-mail newsletter (plain text, no subject line)",
        "👋",
        "Our latest news",
        (),
        "Thank you for being part of our community.",
        facts=True,
        stats=True,
    ),
}


@dataclass(frozen=True)
class ToneStyle:
    end: str  # how the headline ends
    emoji: bool  # the template's emoji before the headline (or the e-mail greeting)
    cta_prefix: str
    cta_end: str  # "" keeps the call to action's own ending
    bullet: str  # "" = highlights as one sentence
    highlights_lead: str
    labels: bool  # facts as "Label: value" lines
    no_exclaim: bool  # a "!" ending a given sentence becomes "."
    temperature: float
    describe: str
    signoff: str


TONES: dict[str, ToneStyle] = {
    "professional": ToneStyle(
        end=".",
        emoji=False,
        cta_prefix="",
        cta_end="",
        bullet="",
        highlights_lead="Highlights:",
        labels=False,
        no_exclaim=True,
        temperature=0.4,
        describe="professional: clear, courteous and factual; no emoji and no exclamation marks",
        signoff="Kind regards,",
    ),
    "friendly": ToneStyle(
        end="!",
        emoji=True,
        cta_prefix="",
        cta_end="",
        bullet="",
        highlights_lead="What you'll love:",
        labels=False,
        no_exclaim=False,
        temperature=0.7,
        describe="friendly: warm and conversational, like a helpful neighbor; at most one emoji",
        signoff="Warm wishes,",
    ),
    "enthusiastic": ToneStyle(
        end="!",
        emoji=True,
        cta_prefix="👉 ",
        cta_end="!",
        bullet="✨ ",
        highlights_lead="",
        labels=False,
        no_exclaim=False,
        temperature=0.8,
        describe="enthusiastic: upbeat and energetic, with exclamation marks and two or three emoji",
        signoff="Cheers,",
    ),
    "informative": ToneStyle(
        end=".",
        emoji=False,
        cta_prefix="",
        cta_end="",
        bullet="- ",
        highlights_lead="Key features:",
        labels=True,
        no_exclaim=True,
        temperature=0.3,
        describe="informative: neutral and fact-first, short labelled lines; no emoji, no exclamation marks",
        signoff="Regards,",
    ),
}

_PRO, _FRIENDLY, _ENTHUSIASTIC, _INFO = "professional", "friendly", "enthusiastic", "informative"

OPENERS: dict[str, dict[str, str]] = {
    "social_post": {_PRO: "", _FRIENDLY: "", _ENTHUSIASTIC: "", _INFO: ""},
    "listing_post": {
        _PRO: "We are pleased to present this property.",
        _FRIENDLY: "We think you're going to love this one.",
        _ENTHUSIASTIC: "Get ready to fall in love with this home!",
        _INFO: "",
    },
    "market_update": {
        _PRO: "Here is our latest summary of local market conditions.",
        _FRIENDLY: "Here's a quick look at what's happening in our local market.",
        _ENTHUSIASTIC: "There's a lot going on in our local market!",
        _INFO: "The latest figures for the local market:",
    },
    "open_house": {
        _PRO: "You are invited to view this property in person.",
        _FRIENDLY: "Come take a look around, we'd love to see you there.",
        _ENTHUSIASTIC: "Mark your calendar, you won't want to miss this one!",
        _INFO: "",
    },
    "email_newsletter": {
        _PRO: "Hello,",
        _FRIENDLY: "Hi there!",
        _ENTHUSIASTIC: "Hi there!",
        _INFO: "Hello,",
    },
}

CLOSERS: dict[str, dict[str, str]] = {
    "social_post": {
        _PRO: "Contact us to learn more.",
        _FRIENDLY: "Questions? Drop us a message anytime.",
        _ENTHUSIASTIC: "Reach out today, we'd love to hear from you!",
        _INFO: "Contact us for more information.",
    },
    "listing_post": {
        _PRO: "Contact us to arrange a private viewing.",
        _FRIENDLY: "Send us a message and we'll set up a time to show you around.",
        _ENTHUSIASTIC: "Book your viewing today!",
        _INFO: "Contact us for the full property details or to arrange a viewing.",
    },
    "market_update": {
        _PRO: "Contact us for a market assessment of your property.",
        _FRIENDLY: "Curious what this means for your home? Just ask, we're happy to help.",
        _ENTHUSIASTIC: "Thinking of making a move? Let's talk!",
        _INFO: "Contact us for a detailed report on your neighborhood.",
    },
    "open_house": {
        _PRO: "All are welcome; no appointment is necessary.",
        _FRIENDLY: "Stop by and say hello, no appointment needed.",
        _ENTHUSIASTIC: "Come see it in person, we can't wait to meet you!",
        _INFO: "No appointment is needed. Contact us with any questions before the day.",
    },
    "email_newsletter": {
        _PRO: "If you have any questions, simply reply to this e-mail.",
        _FRIENDLY: "Got questions? Just hit reply, we read every message.",
        _ENTHUSIASTIC: "Reply to this e-mail, we'd love to hear from you!",
        _INFO: "Reply to this e-mail with any questions.",
    },
}

# Highlights are "points" rather than features in these templates.
POINTS_LEADS: dict[str, str] = {
    _PRO: "Key points:",
    _FRIENDLY: "What this means for you:",
    _ENTHUSIASTIC: "",
    _INFO: "Key points:",
}

INTROS: dict[str, str] = {
    _PRO: "This edition covers {topic}.",
    _FRIENDLY: "This time we're talking about {topic}.",
    _ENTHUSIASTIC: "We've got news to share about {topic}!",
    _INFO: "In this issue: {topic}.",
}

# details: name -> what it is. Numbers are formatted (thousands separators); text is used as written.
DETAILS: dict[str, str] = {
    "address": "the property's address",
    "price": "asking price (text as shown, or a number formatted with `currency`)",
    "currency": "currency symbol put before numeric prices, e.g. $",
    "bedrooms": "number of bedrooms",
    "bathrooms": "number of bathrooms",
    "area": "floor area (text, or a number of sq ft)",
    "location": "neighborhood or town",
    "highlights": "features to mention (a list, or one text)",
    "date": "open house day, as written",
    "time": "open house hours, as written",
    "medianPrice": "median sale price (text, or a number formatted with `currency`)",
    "priceChange": "price change (a number of percent, or text)",
    "period": "what the change compares, e.g. 'vs. last year'",
    "daysOnMarket": "average days on market",
    "inventory": "homes for sale",
    "phone": "phone number to call",
    "cta": "the call to action (replaces the template's)",
    "link": "an http(s) URL to include",
}
_FACT_KEYS = ("address", "price", "bedrooms", "bathrooms", "area", "location")
_STAT_KEYS = ("location", "medianPrice", "priceChange", "daysOnMarket", "inventory")
_FIELD_ALIASES = {k.lower().replace("_", ""): k for k in DETAILS}
# output keys a "missing field" reason may name that generate_content always sets itself
_OWN_FIELDS = ("text", "platform", "length", "limit", "template", "tone", "source")


# --- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrandVoice:
    name: str = ""
    tagline: str = ""
    phrases: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    signature: str = ""  # free text that signs the post as written


@dataclass
class ContentRequest:
    template: str
    topic: str
    platform: Platform | None
    tone: str
    brand: BrandVoice
    details: dict[str, Any]
    hashtags: list[str]
    use_model: bool


def check_params(params: Mapping[str, Any]) -> list[str]:
    problems = [f"unknown parameter {k!r}" for k in params if k not in PARAMS]
    template = params.get("template")
    if not is_reference(template) and template not in TEMPLATES:
        problems.append(f"template must be one of {', '.join(TEMPLATES)}")
    topic = params.get("topic")
    if not is_reference(topic) and (not isinstance(topic, str) or not topic.strip()):
        problems.append("topic is required: what the content is about")
    elif isinstance(topic, str) and len(topic) > MAX_TOPIC:
        problems.append(f"topic is longer than {MAX_TOPIC} characters")
    problems += _check_choice("platform", params.get("platform"), PLATFORMS)
    problems += _check_choice("tone", params.get("tone"), tuple(TONES))
    problems += _check_brand(params.get("brandVoice"))
    problems += _check_details(params.get("details"))
    problems += _check_hashtags(params.get("hashtags"))
    use_model = params.get("useModel")
    if use_model is not None and not is_reference(use_model) and not isinstance(use_model, bool):
        problems.append("useModel must be true or false")
    return problems


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> list[str]:
    if value in (None, "") or is_reference(value) or value in choices:
        return []
    return [f"{name} must be one of {', '.join(choices)}"]


def _check_brand(value: Any) -> list[str]:
    if value is None or isinstance(value, str) or is_reference(value):
        return []
    if not isinstance(value, dict):
        return ["brandVoice must be text or an object {name, tagline, phrases, avoid}"]
    problems = [
        f"unknown brandVoice field {k!r}" for k in value if k not in ("name", "tagline", "phrases", "avoid")
    ]
    for key in ("name", "tagline"):
        if value.get(key) is not None and not isinstance(value[key], str):
            problems.append(f"brandVoice.{key} must be text")
    for key in ("phrases", "avoid"):
        items = value.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
            problems.append(f"brandVoice.{key} must be a list of text")
    return problems


def _check_details(value: Any) -> list[str]:
    if value is None or is_reference(value):
        return []
    if not isinstance(value, dict):
        return ["details must be an object"]
    problems = []
    for key, item in value.items():
        if key not in DETAILS:
            problems.append(f"unknown detail {key!r}; known details: {', '.join(DETAILS)}")
        elif item is None or is_reference(item):
            continue
        elif key == "highlights":
            if not isinstance(item, str) and not (
                isinstance(item, list) and all(isinstance(i, str) for i in item)
            ):
                problems.append("details.highlights must be text or a list of text")
        elif isinstance(item, bool) or not isinstance(item, str | int | float):
            problems.append(f"details.{key} must be text or a number")
        elif key == "link" and not (isinstance(item, str) and find_links(item) == [item.strip()]):
            problems.append("details.link must be one http(s) URL")
    return problems


def _check_hashtags(value: Any) -> list[str]:
    if value is None or is_reference(value):
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        return ["hashtags must be a list of text"]
    if len(value) > MAX_HASHTAGS_GIVEN:
        return [f"at most {MAX_HASHTAGS_GIVEN} hashtags"]
    return []


def parse_request(params: Mapping[str, Any]) -> ContentRequest:
    problems = check_params(params)
    if problems:
        raise ActionFailed("; ".join(problems), code="invalid_parameters")
    platform = params.get("platform")
    details = params.get("details") or {}
    return ContentRequest(
        template=str(params["template"]),
        topic=" ".join(str(params["topic"]).split()),
        platform=Platform(platform) if platform else None,
        tone=str(params.get("tone") or _PRO),
        brand=parse_brand(params.get("brandVoice")),
        details={k: v for k, v in details.items() if v not in (None, "", [])},
        hashtags=normalize_hashtags(params.get("hashtags") or []),
        use_model=bool(params.get("useModel", False)),
    )


def parse_brand(value: Any) -> BrandVoice:
    if isinstance(value, dict):
        return BrandVoice(
            name=str(value.get("name") or "").strip(),
            tagline=str(value.get("tagline") or "").strip(),
            phrases=tuple(p.strip() for p in value.get("phrases") or [] if p.strip()),
            avoid=tuple(p.strip() for p in value.get("avoid") or [] if p.strip()),
        )
    text = " ".join(str(value or "").split())
    if "|" not in text:
        return BrandVoice(signature=text)
    parts = [p.strip() for p in text.split("|")]
    phrases = tuple(p.strip() for p in ",".join(parts[2:]).split(",") if p.strip())
    return BrandVoice(name=parts[0], tagline=parts[1], phrases=phrases)


def normalize_hashtags(tags: list[str]) -> list[str]:
    """Hashtags without "#", letters, digits and _ only, at least one letter, no duplicates (any case)."""
    seen: set[str] = set()
    out = []
    for tag in tags:
        clean = re.sub(r"[^\w]", "", tag.strip().lstrip("#"))
        if clean and any(c.isalpha() for c in clean) and clean.lower() not in seen:
            seen.add(clean.lower())
            out.append(clean)
    return out


# --- feedback ------------------------------------------------------------------------------------


@dataclass
class Feedback:
    banned: list[str] = field(default_factory=list)
    max_length: int | None = None
    min_length: int | None = None
    missing: list[str] = field(default_factory=list)
    need_hashtags: bool = False
    require_link: bool = False
    broken: list[str] = field(default_factory=list)
    detox: bool = False
    applied: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def parse_feedback(lines: tuple[str, ...] | list[str]) -> Feedback:
    feedback = Feedback()
    for line in lines:
        for kind, pattern in FEEDBACK_PATTERNS.items():
            match = pattern.match(line.strip())
            if match and _take(feedback, kind, match):
                feedback.applied.append(line)
                break
        else:
            feedback.ignored.append(line)
    return feedback


def _take(feedback: Feedback, kind: str, match: re.Match[str]) -> bool:
    """Record one reason; False when generate_content cannot act on it."""
    groups = match.groupdict()
    if groups.get("field") not in (None, "text"):
        return False
    if kind == "banned_phrase":
        feedback.banned.append(groups["phrase"])
    elif kind == "too_long":
        limit = int(groups["limit"])
        feedback.max_length = limit if feedback.max_length is None else min(feedback.max_length, limit)
    elif kind == "too_short":
        feedback.min_length = max(feedback.min_length or 0, int(groups["limit"]))
    elif kind == "link_required":
        feedback.require_link = True
    elif kind == "broken_link":
        feedback.broken.append(groups["url"])
    elif kind == "too_toxic":
        feedback.detox = True
    else:
        return _take_missing(feedback, groups["path"])
    return True


def _take_missing(feedback: Feedback, path: str) -> bool:
    if path == "hashtags":
        feedback.need_hashtags = True
        return True
    if path in _OWN_FIELDS:
        return path == "text"
    feedback.missing.append(path)
    return True


# --- composing -----------------------------------------------------------------------------------


@dataclass
class Item:
    key: str
    text: str
    priority: int  # 0: never left out; higher numbers are left out first
    shrinkable: bool = False


@dataclass
class Block:
    items: list[Item]
    render: Callable[[list[str]], str] = " ".join


def _join_lines(parts: list[str]) -> str:
    return "\n".join(parts)


def _join_dots(parts: list[str]) -> str:
    return " · ".join(parts)


def oxford(parts: list[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def sentence(text: str, style: ToneStyle, end: str = ".") -> str:
    """`text` as a sentence in the tone: an ending added when it has none; "!" dropped when the tone
    has no exclamation marks; `end` "!" turns a closing "." into "!"."""
    text = text.strip()
    if not text:
        return text
    if style.no_exclaim and text.endswith("!"):
        text = text.rstrip("!") + "."
    if end == "!" and text.endswith("."):
        text = text[:-1] + "!"
    if text[-1] not in ".!?…:":
        text += end
    return text


def headline(topic: str, spec: TemplateSpec, style: ToneStyle) -> str:
    body = topic.strip().rstrip(".!:;,")
    end = "?" if body.endswith("?") else style.end
    body = body.rstrip("?")
    prefix = f"{spec.emoji} " if style.emoji and spec.emoji else ""
    return f"{prefix}{body}{end}" if body else ""


def format_amount(value: Any, currency: str = "") -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        return f"{currency}{text}"
    return str(value).strip()


def plain(value: Any) -> str:
    """A count or figure as written: 3, 2.5, 1,200; text as given."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"
    return str(value).strip()


def _count(value: Any, one: str, many: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{plain(value)} {one if value == 1 else many}"
    return f"{str(value).strip()} {many}"


def _area(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.0f} sq ft"
    return str(value).strip()


def _change(value: Any, period: str) -> tuple[str, str]:
    """(labelled value, sentence) for a price change."""
    suffix = f" {period.strip()}" if period.strip() else ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        sign = "+" if value > 0 else ""
        words = "up" if value > 0 else "down" if value < 0 else "flat at"
        return f"{sign}{value:g}%{suffix}", f"Prices are {words} {abs(value):g}%{suffix}."
    return f"{str(value).strip()}{suffix}", f"Price change: {str(value).strip()}{suffix}."


FACT_LABELS = {
    "address": "Address",
    "price": "Price",
    "bedrooms": "Bedrooms",
    "bathrooms": "Bathrooms",
    "area": "Size",
    "location": "Location",
    "medianPrice": "Median sale price",
    "priceChange": "Price change",
    "daysOnMarket": "Average days on market",
    "inventory": "Homes for sale",
    "phone": "Phone",
    "date": "Date",
    "time": "Time",
    "cta": "Next step",
    "link": "Details",
}
_FACT_PRIORITY = {"address": 1, "price": 1, "bedrooms": 3, "bathrooms": 3, "area": 5, "location": 4}
_STAT_PRIORITY = {"location": 1, "medianPrice": 1, "priceChange": 1, "daysOnMarket": 2, "inventory": 2}


def labelled(key: str, details: Mapping[str, Any]) -> str:
    """One detail as "Label: value"."""
    value = details[key]
    currency = str(details.get("currency") or "")
    if key in ("price", "medianPrice"):
        shown = format_amount(value, currency)
    elif key == "priceChange":
        shown = _change(value, str(details.get("period") or ""))[0]
    elif key == "area":
        shown = _area(value)
    elif key == "highlights":
        shown = "; ".join(_highlights(details))
    else:
        shown = plain(value)
    return f"{FACT_LABELS.get(key, key)}: {shown}"


def _fact(key: str, details: Mapping[str, Any], style: ToneStyle) -> str:
    if style.labels:
        return labelled(key, details)
    value = details[key]
    if key == "price":
        return format_amount(value, str(details.get("currency") or ""))
    if key == "bedrooms":
        return _count(value, "bedroom", "bedrooms")
    if key == "bathrooms":
        return _count(value, "bathroom", "bathrooms")
    if key == "area":
        return _area(value)
    return str(value).strip()


def _stat(key: str, details: Mapping[str, Any], style: ToneStyle) -> str:
    if style.labels:
        return labelled(key, details)
    if key == "location":
        return f"Area: {plain(details[key])}."
    value = details[key]
    if key == "medianPrice":
        return f"The median sale price is {format_amount(value, str(details.get('currency') or ''))}."
    if key == "priceChange":
        return _change(value, str(details.get("period") or ""))[1]
    if key == "daysOnMarket":
        return f"Homes are selling in {plain(value)} days on average."
    return f"There are {plain(value)} homes for sale."


def _highlights(details: Mapping[str, Any]) -> list[str]:
    raw = details.get("highlights")
    items = [raw] if isinstance(raw, str) else list(raw or [])
    return [" ".join(str(i).split()).rstrip(".!;,") for i in items if str(i).strip()]


def _highlights_block(request: ContentRequest, style: ToneStyle) -> Block | None:
    points = _highlights(request.details)
    if not points:
        return None
    items = [Item("highlights", p, 4 if i == 0 else 5 + i) for i, p in enumerate(points)]
    email = request.template == "email_newsletter"
    bullet = style.bullet or ("- " if email else "")
    lead = POINTS_LEADS[request.tone] if TEMPLATES[request.template].stats else style.highlights_lead
    if bullet:

        def lines(parts: list[str]) -> str:
            return "\n".join(([lead] if lead else []) + [bullet + p[:1].upper() + p[1:] for p in parts])

        return Block(items, lines)

    def one_sentence(parts: list[str]) -> str:
        return f"{lead} {oxford(parts)}." if lead else f"{oxford(parts)}."

    return Block(items, one_sentence)


def compose(request: ContentRequest, extra: bool = False) -> list[Block]:
    """The parts of a template text, in order, before any fitting."""
    spec, style, details = TEMPLATES[request.template], TONES[request.tone], request.details
    email = request.template == "email_newsletter"
    blocks: list[Block] = []
    if email:
        greeting = OPENERS["email_newsletter"][request.tone]
        greeting += f" {spec.emoji}" if style.emoji else ""
        blocks.append(Block([Item("greeting", greeting, 6)]))
        intro = INTROS[request.tone].format(topic=request.topic.rstrip(".!"))
        blocks.append(Block([Item("headline", sentence(intro, style), 0, shrinkable=True)]))
    else:
        text = headline(request.topic, spec, style) or sentence(spec.fallback_headline, style, style.end)
        blocks.append(Block([Item("headline", text, 0, shrinkable=True)]))
        opener = OPENERS[request.template][request.tone]
        if opener:
            blocks.append(Block([Item("opener", opener, 6)]))
    if "date" in details or "time" in details:
        when = ", ".join(str(details[k]).strip() for k in ("date", "time") if k in details)
        blocks.append(Block([Item("date" if "date" in details else "time", f"When: {when}", 1)]))
    blocks += _facts_blocks(request, spec, style)
    highlights = _highlights_block(request, style)
    if highlights:
        blocks.append(highlights)
    if extra:
        blocks.append(Block([Item("extra", sentence(spec.extra, style), 8)]))
    blocks += _closing_blocks(request, style, email)
    return blocks


def _facts_blocks(request: ContentRequest, spec: TemplateSpec, style: ToneStyle) -> list[Block]:
    details = request.details
    blocks = []
    if spec.stats:
        stats = [Item(k, _stat(k, details, style), _STAT_PRIORITY[k]) for k in _STAT_KEYS if k in details]
        if stats:
            blocks.append(Block(stats, _join_lines if style.labels else " ".join))
    if spec.facts:
        keys = [k for k in _FACT_KEYS if k in details and not (spec.stats and k == "location" and blocks)]
        facts = [Item(k, _fact(k, details, style), _FACT_PRIORITY[k]) for k in keys]
        if facts:
            blocks.append(Block(facts, _join_lines if style.labels else _join_dots))
    return blocks


def _closing_blocks(request: ContentRequest, style: ToneStyle, email: bool) -> list[Block]:
    details, brand = request.details, request.brand
    cta = str(details.get("cta") or CLOSERS[request.template][request.tone])
    cta_text = style.cta_prefix + sentence(cta, style, style.cta_end or ".")
    blocks = [Block([Item("cta", cta_text, 3)])]
    contact = []
    if "link" in details:
        link = str(details["link"]).strip()
        contact.append(Item("link", f"Details: {link}" if style.labels else link, 2))
    if "phone" in details:
        contact.append(Item("phone", f"Call {str(details['phone']).strip()}", 3))
    if contact:
        blocks.append(Block(contact, _join_lines))
    signing: list[Item] = []
    for index, phrase in enumerate(brand.phrases[:2]):
        signing.append(Item("brandPhrase", sentence(phrase, style), 7 + index * 3))
    signature = _signature(brand, style, email)
    if signature:
        signing.append(Item("signature", signature, 4))
    if signing:
        blocks.append(Block(signing, _join_lines))
    return blocks


def _signature(brand: BrandVoice, style: ToneStyle, email: bool) -> str:
    names = [n for n in (brand.name, brand.tagline) if n] or ([brand.signature] if brand.signature else [])
    if not names:
        return ""
    if email:
        return "\n".join([style.signoff, *names])
    return "— " + " · ".join(names)


# --- feedback applied to the parts ---------------------------------------------------------------


def removal_patterns(request: ContentRequest, feedback: Feedback) -> list[re.Pattern[str]]:
    phrases = list(dict.fromkeys([*feedback.banned, *request.brand.avoid]))
    return [phrase_pattern(p) for p in phrases]


def remove_phrases(text: str, patterns: list[re.Pattern[str]], detox: bool) -> str:
    """`text` without the phrases (repeated until none is left: a removal can join two halves)."""
    original = text
    if detox:
        text = text.replace("\u2019", "'")  # the word list's phrases are written with straight quotes
    for _ in range(6):
        before = text
        for pattern in patterns:
            text = pattern.sub("", text)
        if detox:
            for term in toxicity(text).terms:
                text = phrase_pattern(term).sub("", text)
        if text == before:
            break
    return tidy(text) if text != original else text


def tidy(text: str) -> str:
    """Whitespace and punctuation left over after a removal."""
    lines = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t]{2,}", " ", line)
        line = re.sub(r"\(\s*\)|\[\s*\]", "", line)
        line = re.sub(r"\s+([,.;:!?…])", r"\1", line)
        line = re.sub(r"([,;:])(\s*[,;:])+", r"\1", line)
        line = re.sub(r"[,;:]\s*([.!?])", r"\1", line)
        line = re.sub(r"^[\s,;:.·\-\u2013\u2014]+(?=\w)", "", line)
        lines.append(line.strip())
    return "\n".join(lines).strip()


def _meaningful(text: str) -> bool:
    return any(c.isalnum() for c in text)


def apply_feedback(
    blocks: list[Block], request: ContentRequest, feedback: Feedback, output: dict[str, Any]
) -> list[Block]:
    """Removals, broken links and the parts a gate asked for; `output` gets the fields asked for."""
    patterns = removal_patterns(request, feedback)
    for block in blocks:
        kept = []
        for item in block.items:
            for url in feedback.broken:
                if url in item.text:
                    item.text = tidy(item.text.replace(url, ""))
            item.text = remove_phrases(item.text, patterns, feedback.detox)
            if item.key == "headline" and not _meaningful(item.text):
                spec, style = TEMPLATES[request.template], TONES[request.tone]
                item.text = sentence(spec.fallback_headline, style, style.end)
            if _meaningful(item.text):
                kept.append(item)
        block.items = kept
    blocks = [b for b in blocks if b.items]
    for path in feedback.missing:
        _set_path(output, path, _force(blocks, path, request))
    if feedback.require_link:
        _force(blocks, "link", request)
    return blocks


def _force(blocks: list[Block], path: str, request: ContentRequest) -> Any:
    """Keep the detail `path` names in the text whatever the limit; its value."""
    key = _FIELD_ALIASES.get(path.split(".")[-1].lower().replace("_", ""))
    if key is None or key not in request.details:
        raise ActionFailed(
            f"a quality gate requires {path}, but details has no {key or path.split('.')[-1]}: "
            "add it to the step's details",
            code="missing_detail",
        )
    value = request.details[key]
    found = [item for block in blocks for item in block.items if item.key == key]
    for item in found:
        item.priority = 0
    shown = str(value).strip().lower()
    if not found and not any(shown in item.text.lower() for block in blocks for item in block.items):
        blocks.append(Block([Item(key, labelled(key, request.details), 0)]))
    return value


def _set_path(output: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] in output and not isinstance(output[parts[0]], dict):
        return
    target = output
    for part in parts[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            return
        target = nxt
    target.setdefault(parts[-1], value)


# --- fitting -------------------------------------------------------------------------------------


@dataclass
class Fitted:
    text: str
    hashtags: list[str]
    dropped: list[str]
    truncated: bool


def make_fits(platform: Platform | None, max_length: int | None) -> Callable[[str], bool]:
    limit = RULES[platform].max_text if platform else None

    def fits(text: str) -> bool:
        if limit is not None and platform is not None and text_length(platform, text) > limit:
            return False
        return max_length is None or len(text) <= max_length

    return fits


def render(blocks: list[Block], hashtags: list[str]) -> str:
    parts = [block.render([i.text for i in block.items]) for block in blocks if block.items]
    if hashtags:
        parts.append(" ".join(f"#{t}" for t in hashtags))
    return "\n\n".join(parts)


def shorten(text: str, fits: Callable[[str], bool]) -> str | None:
    """The longest start of `text` ending at a word boundary, with "…", that fits; None if none does."""
    cuts = [m.start() for m in re.finditer(r"\s+", text)]
    best = None
    low, high = 0, len(cuts) - 1
    while low <= high:
        middle = (low + high) // 2
        head = text[: cuts[middle]].rstrip(" \n,;:-\u2013\u2014.·")
        # an ellipsis glued to a URL would become part of the link
        candidate = head + (" " if _ENDS_WITH_URL.search(head) else "") + ELLIPSIS
        if head and fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def fit(blocks: list[Block], hashtags: list[str], fits: Callable[[str], bool]) -> Fitted:
    """The text within the limit (see the module doc for the order things are given up in)."""
    tags = list(hashtags)
    dropped: list[str] = []
    while len(tags) > 3 and not fits(render(blocks, tags)):
        dropped.append("#" + tags.pop())
    while not fits(render(blocks, tags)) and _drop_one(blocks, dropped, least=3):
        pass
    while tags and not fits(render(blocks, tags)):
        dropped.append("#" + tags.pop())
    while not fits(render(blocks, tags)) and _drop_one(blocks, dropped, least=1):
        pass
    truncated = False
    for item in sorted(
        (i for b in blocks for i in b.items if i.shrinkable), key=lambda i: len(i.text), reverse=True
    ):
        if fits(render(blocks, tags)):
            break
        truncated = _shrink(blocks, tags, item, fits) or truncated
    text = render(blocks, tags)
    if not fits(text):
        cut = shorten(text, fits)
        if cut is None:
            raise ActionFailed("the content cannot be made to fit the length limit", code="cannot_fit")
        text, truncated = cut, True
    return Fitted(text, tags, dropped, truncated)


def _drop_one(blocks: list[Block], dropped: list[str], least: int) -> bool:
    """Leave out the least important part whose priority is at least `least` (ties: the later one)."""
    candidates = [
        (item.priority, b, i)
        for b, block in enumerate(blocks)
        for i, item in enumerate(block.items)
        if item.priority >= least
    ]
    if not candidates:
        return False
    _, b, i = max(candidates)
    dropped.append(blocks[b].items.pop(i).key)
    return True


def _shrink(blocks: list[Block], tags: list[str], item: Item, fits: Callable[[str], bool]) -> bool:
    original = item.text

    def fits_with(text: str) -> bool:
        item.text = text
        try:
            return fits(render(blocks, tags))
        finally:
            item.text = original

    shorter = shorten(original, fits_with)
    if shorter is None:
        return False
    item.text = shorter
    return True


# --- output --------------------------------------------------------------------------------------


def finish(
    request: ContentRequest,
    feedback: Feedback,
    blocks: list[Block],
    *,
    source: str,
    model_id: str | None = None,
) -> dict[str, Any]:
    output: dict[str, Any] = {}
    blocks = apply_feedback(blocks, request, feedback, output)
    email = request.template == "email_newsletter"
    hashtags = [] if email else _hashtags(request, feedback)
    fits = make_fits(request.platform, feedback.max_length)
    fitted = fit(blocks, hashtags, fits)
    text = remove_phrases(fitted.text, removal_patterns(request, feedback), feedback.detox)
    limit = RULES[request.platform].max_text if request.platform else feedback.max_length
    result: dict[str, Any] = {
        "text": text,
        "hashtags": fitted.hashtags,
        "platform": str(request.platform) if request.platform else None,
        "length": text_length(request.platform, text) if request.platform else len(text),
        "limit": limit,
        "template": request.template,
        "tone": request.tone,
        "source": source,
        "truncated": fitted.truncated,
        "dropped": fitted.dropped,
        "feedbackApplied": feedback.applied,
        "feedbackIgnored": feedback.ignored,
        "unusedDetails": sorted(set(request.details) - used_details(request)),
    }
    if model_id:
        result["modelId"] = model_id
    if email:
        result["subject"] = _subject(request, feedback)
    for key, value in output.items():
        result.setdefault(key, value)
    return result


def _hashtags(request: ContentRequest, feedback: Feedback) -> list[str]:
    tags = list(request.hashtags)
    if feedback.need_hashtags and not tags:
        location = re.sub(r"[^\w]", "", str(request.details.get("location", "")).title())
        tags = normalize_hashtags([*TEMPLATES[request.template].hashtags, location])
    banned = {re.sub(r"\W", "", p).lower() for p in [*feedback.banned, *request.brand.avoid]}
    tags = [t for t in tags if t.lower() not in banned]
    if feedback.detox:
        tags = [t for t in tags if not toxicity(t).terms]
    limit = RULES[request.platform].max_hashtags if request.platform else None
    return tags[:limit] if limit is not None else tags


def _subject(request: ContentRequest, feedback: Feedback) -> str:
    subject = remove_phrases(request.topic, removal_patterns(request, feedback), feedback.detox)
    subject = subject or TEMPLATES[request.template].fallback_headline
    return (
        subject if len(subject) <= 78 else shorten(subject, lambda s: len(s) <= 78) or subject[:77] + ELLIPSIS
    )


def used_details(request: ContentRequest) -> set[str]:
    spec = TEMPLATES[request.template]
    used = {"highlights", "cta", "link", "phone", "date", "time", "currency"}
    if spec.facts:
        used |= set(_FACT_KEYS)
    if spec.stats:
        used |= {*_STAT_KEYS, "period"}
    return used


# --- the model -----------------------------------------------------------------------------------

_RETRYABLE_MODEL_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
_REFUSALS = ("guardrail_intervened", "content_filtered")


def model_prompt(request: ContentRequest, feedback_lines: tuple[str, ...], budget: int) -> tuple[str, str]:
    """(system prompt, user prompt) for the model."""
    spec, style = TEMPLATES[request.template], TONES[request.tone]
    system = (
        "You write marketing copy for a small local business. "
        f"Tone: {style.describe}. "
        "Use only the facts you are given; never invent prices, addresses, dates, figures or claims. "
        "Reply with the text alone: no title, no preamble, no quotation marks, no hashtags, no URLs."
    )
    where = f" for {request.platform}" if request.platform else ""
    lines = [f"Write {spec.description}{where}, at most {budget} characters.", f"Topic: {request.topic}"]
    skip = ("currency", "period", "link")
    facts = [labelled(k, request.details) for k in DETAILS if k in request.details and k not in skip]
    if facts:
        lines += ["Facts:", *(f"- {f}" for f in facts)]
    if "link" in request.details:
        lines.append("A link is added after your text.")
    lines += _brand_lines(request.brand)
    feedback = parse_feedback(feedback_lines)
    avoid = list(dict.fromkeys([*feedback.banned, *request.brand.avoid]))
    if avoid:
        lines.append("Never use these phrases: " + "; ".join(f'"{p}"' for p in avoid))
    if feedback_lines:
        lines.append("An earlier draft was rejected for these reasons; fix them:")
        lines += [f"- {line}" for line in feedback_lines]
    return system, "\n".join(lines)


def _brand_lines(brand: BrandVoice) -> list[str]:
    lines = []
    if brand.name:
        lines.append(f"Business name: {brand.name}")
    if brand.tagline:
        lines.append(f"Tagline: {brand.tagline}")
    if brand.phrases:
        lines.append("Phrases the business likes to use: " + "; ".join(brand.phrases))
    if brand.signature:
        lines.append(f"Brand voice: {brand.signature}")
    return lines


def model_budget(request: ContentRequest, feedback: Feedback) -> int:
    """Characters the model may use, leaving room for the link and hashtags added after it."""
    ceiling = 3000 if request.template == "email_newsletter" else 1500
    limits = [ceiling]
    if request.platform:
        limits.append(RULES[request.platform].max_text)
    if feedback.max_length:
        limits.append(feedback.max_length)
    room = sum(len(t) + 2 for t in request.hashtags[:3]) + (25 if "link" in request.details else 0)
    budget = min(limits) - room
    if request.platform and RULES[request.platform].weighted_length:
        budget = int(budget * 0.9)
    return max(40, budget)


def call_model(
    client: Any, model_id: str, system: str, prompt: str, *, max_tokens: int, temperature: float
) -> str:
    """The model's text through the Converse API. Request and response shapes as documented in the
    Amazon Bedrock API Reference, "Converse" (docs.aws.amazon.com/bedrock/latest/APIReference/
    API_runtime_Converse.html): modelId, messages [{role, content: [{text}]}], system [{text}],
    inferenceConfig {maxTokens, temperature}; the reply is output.message.content[*].text."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            system=[{"text": system}],
            inferenceConfig={"maxTokens": max_tokens, "temperature": temperature},
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        retryable = code in _RETRYABLE_MODEL_ERRORS or (isinstance(status, int) and status >= 500)
        raise ActionFailed(
            f"Bedrock {code or 'error'}: {error.get('Message') or exc}",
            retryable=retryable,
            code="model_unavailable" if retryable else "model_error",
        ) from None
    except BotoCoreError as exc:
        raise ActionFailed(
            f"Bedrock could not be reached: {exc}", retryable=True, code="model_unavailable"
        ) from None
    return _reply_text(response)


def _reply_text(response: Mapping[str, Any]) -> str:
    stop = response.get("stopReason")
    if stop in _REFUSALS:
        raise ActionFailed(f"the model declined to write this content ({stop})", code="model_refused")
    content = response.get("output", {}).get("message", {}).get("content", [])
    texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    text = "\n".join(texts).strip().strip('"“”').strip()
    if not text:
        raise ActionFailed(f"the model returned no text (stopReason {stop})", code="model_empty")
    return text


def with_model(
    ctx: ActionContext, settings: Settings, request: ContentRequest, feedback: Feedback
) -> dict[str, Any]:
    if feedback.detox:
        request.tone = _PRO
    model_id = settings.bedrock_model_id.strip()
    if not model_id:
        raise ActionFailed(
            "useModel is set but no model is configured: set TIDINGS_BEDROCK_MODEL_ID to a Bedrock model "
            "or inference profile id, or generate from the template (useModel: false)",
            code="model_not_configured",
        )
    budget = model_budget(request, feedback)
    system, prompt = model_prompt(request, tuple(ctx.feedback), budget)
    max_tokens = max(256, min(4096, budget // 2))
    temperature = TONES[request.tone].temperature
    client = ctx.services.bedrock()
    body = call_model(client, model_id, system, prompt, max_tokens=max_tokens, temperature=temperature)
    blocks = [Block([Item("body", body, 0, shrinkable=True)])]
    link = str(request.details.get("link", "")).strip()
    if link and link not in body:
        blocks.append(Block([Item("link", link, 2)]))
    return finish(request, feedback, blocks, source="bedrock", model_id=model_id)


def with_template(request: ContentRequest, feedback: Feedback) -> dict[str, Any]:
    if feedback.detox:
        request.tone = _PRO
    blocks = compose(request)
    if feedback.min_length is not None and len(render(blocks, request.hashtags)) < feedback.min_length:
        blocks = compose(request, extra=True)
    return finish(request, feedback, blocks, source="template")


class GenerateContent:
    name = "generate_content"
    description = (
        "Write post copy from a template (social_post, listing_post, market_update, open_house, "
        "email_newsletter) or, with useModel, an Amazon Bedrock model: `template`, `topic`, `platform`?, "
        "`tone`?, `brandVoice`?, `details`?, `hashtags`?, `useModel`?. Fits the platform's limit and acts "
        "on quality-gate feedback."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        return check_params(params)

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        request = parse_request(params)
        feedback = parse_feedback(ctx.feedback)
        if request.use_model:
            return with_model(ctx, ctx.services.settings(), request, feedback)
        return with_template(request, feedback)


ACTION = GenerateContent()
