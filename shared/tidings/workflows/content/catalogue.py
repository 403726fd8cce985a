"""What generate_content writes from: its templates, tones, openers and closers, the details it knows
and how each is labelled, and which parts it gives up first when a text must be shortened."""

from __future__ import annotations

from dataclasses import dataclass


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
DEFAULT_TONE = _PRO

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
FACT_KEYS = ("address", "price", "bedrooms", "bathrooms", "area", "location")
STAT_KEYS = ("location", "medianPrice", "priceChange", "daysOnMarket", "inventory")
FIELD_ALIASES = {k.lower().replace("_", ""): k for k in DETAILS}
# output keys a "missing field" reason may name that generate_content always sets itself
OWN_FIELDS = ("text", "platform", "length", "limit", "template", "tone", "source")


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
FACT_PRIORITY = {"address": 1, "price": 1, "bedrooms": 3, "bathrooms": 3, "area": 5, "location": 4}
STAT_PRIORITY = {"location": 1, "medianPrice": 1, "priceChange": 1, "daysOnMarket": 2, "inventory": 2}
