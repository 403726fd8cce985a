"""The campaign templates: how many emails each has, the role of each email in order, and the copy
each role starts from, written for a real-estate agent's audience.

Flows. Every sequence opens with an `introduction` and ends with a `call_to_action`; between them
`value` and `social_proof` alternate, value first: 4 emails are introduction, value, social proof,
call to action; 5 repeat a value email before the call to action; 10 hold four of each. One email is
a call to action alone; two are an introduction and a call to action.

Copy. Each template has its own copy per role (a value or social-proof email that comes again takes
the template's next variant, then the general ones of `custom`). A paragraph is text, a list of
points (a tuple), or a slot (`@name`) that `tidings.campaigns.content` fills from the campaign's
details: the listing's facts, the market figures, the highlights, a testimonial, the season's notes.
`{name}` fields come from the campaign too (`topic`, `area`, `address`, `season`...); a paragraph
naming a field the campaign has no value for is left out. Nothing here states a number or a fact
the user did not give: where a testimonial is missing, the social-proof email offers references
instead of inventing praise.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.models.campaigns import CUSTOM_TEMPLATE, TEMPLATE_LENGTHS

Paragraph = str | tuple[str, ...]  # text (or a @slot), or a list of points


@dataclass(frozen=True)
class Copy:
    subject: str
    preheader: str
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True)
class TemplatePlan:
    """A template's facts: its usual length and the range of lengths that suit it, the span its emails
    usually cover (days), the topic it writes about when none is given, the emoji a friendly or
    enthusiastic subject opens with, and the details it cannot be written without (any one of them)."""

    length: int
    min_emails: int
    max_emails: int
    min_days: int
    max_days: int
    default_topic: str
    emoji: str
    needs_any: tuple[str, ...] = ()


PLANS: dict[str, TemplatePlan] = {
    "nurture": TemplatePlan(5, 4, 6, 10, 45, "your home and our local market", "🏡"),
    "onboarding": TemplatePlan(5, 4, 6, 4, 21, "your move", "👋"),
    "listing-promotion": TemplatePlan(5, 4, 6, 4, 21, "a new listing", "🏡", needs_any=("address",)),
    "market-update": TemplatePlan(
        4,
        3,
        5,
        9,
        120,
        "the local housing market",
        "📈",
        needs_any=("medianPrice", "priceChange", "daysOnMarket", "inventory"),
    ),
    "seasonal": TemplatePlan(4, 3, 5, 6, 30, "the season ahead", "🍂"),
    CUSTOM_TEMPLATE: TemplatePlan(5, 3, 7, 3, 60, "", "✉️"),
}
assert all(PLANS[name].length == length for name, length in TEMPLATE_LENGTHS.items())


def flow(count: int) -> tuple[str, ...]:
    """The role of each of `count` emails, in order (see the module docstring)."""
    if count < 1:
        raise ValueError("a campaign has at least one email")
    if count == 1:
        return ("call_to_action",)
    middle = tuple("value" if i % 2 == 0 else "social_proof" for i in range(count - 2))
    return ("introduction", *middle, "call_to_action")


_PROOF = "@proof"  # a testimonial when given, else an offer of references

# -- the general copy (custom, and any template's emails beyond its own variants) ---------------------

_GENERAL_VALUE = (
    Copy(
        "{Topic}: where to start",
        "The first step, and why it matters most.",
        (
            "The first step with {topic} is being clear about what you want from it. Take a moment to "
            "write down your goals and your timing: almost every later decision follows from them.",
            "If you are not sure yet, that is normal. A short conversation is often enough to turn a "
            "vague plan into a clear one.",
        ),
    ),
    Copy(
        "{Topic}: the questions worth asking",
        "Four questions that make the next steps easier.",
        (
            "Good decisions about {topic} start with good questions:",
            (
                "What would a good outcome look like for you a year from now?",
                "What budget are you working with, and how firm is it?",
                "What timing suits you, and what could change it?",
                "Who else needs to be part of the decision?",
            ),
            "Write your answers down and keep them: they make every later conversation faster.",
        ),
    ),
    Copy(
        "{Topic}: mistakes we help people avoid",
        "Three common missteps, and how to steer clear of them.",
        (
            "Most of the problems we see with {topic} come from a few familiar missteps:",
            (
                "Deciding on price alone, without weighing condition, location and timing",
                "Waiting for a perfect moment that never quite arrives",
                "Leaving paperwork and financing until the last minute",
            ),
            "Each one is easy to avoid with a little planning, and we are glad to help with it.",
        ),
    ),
    Copy(
        "{Topic}: what we would do in your place",
        "A simple plan you can follow at your own pace.",
        (
            "If we were in your place, we would take {topic} one step at a time:",
            (
                "Set the goal and the timing first",
                "Gather the numbers: budget, costs and what similar homes sell for in {area}",
                "Talk it through with someone who knows the local market before committing",
            ),
            "None of this has to happen this week. It simply helps to know the order of things.",
        ),
    ),
)

_GENERAL_PROOF = (
    Copy(
        "Don't just take our word for it",
        "What working with us is like, from the people who have.",
        (
            "The best way to judge anyone you might work with is to hear from the people they have helped.",
            _PROOF,
        ),
    ),
    Copy(
        "Local knowledge, in practice",
        "Why knowing {area} street by street matters.",
        (
            "Local knowledge is hard to replace: which streets hold their value, how long homes "
            "usually take to sell, what buyers ask about first. That is what we bring to {topic}.",
            _PROOF,
        ),
    ),
    Copy(
        "What our clients tell us",
        "In their own words.",
        (
            "We ask every client what we could have done better, and we listen to the answers.",
            _PROOF,
        ),
    ),
    Copy(
        "References, whenever you want them",
        "Talk to people who have worked with us.",
        (
            "Choosing who to work with is a real decision, and it deserves more than a brochure.",
            _PROOF,
            "Ask us for references at any time; there is no need to wait until you are ready to move.",
        ),
    ),
)

_CUSTOM = {
    "introduction": (
        Copy(
            "{Topic}",
            "A short series from us on {topic}.",
            (
                "We are starting a short series of emails on {topic}.",
                "It is written for {audience}.",
                "Each email covers one part of the subject and takes a couple of minutes to read. If a "
                "question comes up along the way, simply reply.",
            ),
        ),
    ),
    "value": _GENERAL_VALUE,
    "social_proof": _GENERAL_PROOF,
    "call_to_action": (
        Copy(
            "Ready to talk about {topic}?",
            "A short conversation is the easiest next step.",
            (
                "If {topic} is on your mind, a short conversation is the easiest next step: no "
                "obligation, just a clear picture of your options.",
            ),
        ),
    ),
}

# -- each template's own copy --------------------------------------------------------------------------

COPY: dict[str, dict[str, tuple[Copy, ...]]] = {
    CUSTOM_TEMPLATE: _CUSTOM,
    "nurture": {
        "introduction": (
            Copy(
                "Thinking of you and your home",
                "A few short notes from us about {topic}.",
                (
                    "It has been a while since we worked together, and we wanted to stay in touch.",
                    "Over the next few emails we will share what we are seeing around {topic}: "
                    "practical notes you can use whether you plan to stay for years or are starting to "
                    "think about a next move.",
                    "There is nothing you need to do. If a question about your home comes up, we are "
                    "one reply away.",
                ),
            ),
        ),
        "value": (
            Copy(
                "What your home may be worth today",
                "How values move, and how to find your own number.",
                (
                    "Home values rarely stand still. Sales of similar homes nearby, interest rates and "
                    "the time of year all shift what a buyer will pay.",
                    "@stats",
                    "If you would like a clear number for your own home, we can prepare a comparative "
                    "market analysis: recent sales of homes like yours in {area}, adjusted for size, "
                    "condition and upgrades. It is free and carries no obligation.",
                ),
            ),
            Copy(
                "Small upkeep that protects your home's value",
                "A short checklist buyers will notice later.",
                (
                    "The upkeep that protects a home's value is rarely dramatic. A few habits make the "
                    "biggest difference when the time comes to sell:",
                    (
                        "Service the heating and cooling system once a year",
                        "Clean the gutters and check the roof after heavy storms",
                        "Keep receipts for repairs and upgrades: buyers and appraisers ask for them",
                        "Fix small leaks before they become large ones",
                    ),
                    "Planning a bigger project? Ask us first which improvements tend to pay back in "
                    "{area} and which rarely do.",
                ),
            ),
        ),
        "social_proof": (
            Copy(
                "Thank you for every introduction",
                "Referrals from people like you are how we grow.",
                (
                    "Much of our work comes from introductions by people we have helped before. That "
                    "trust means a great deal to us.",
                    _PROOF,
                    "If someone you know is thinking about buying or selling, we would be glad to help "
                    "them with the same care.",
                ),
            ),
        ),
        "call_to_action": (
            Copy(
                "Your free home value review",
                "A clear, no-obligation picture of where your home stands.",
                (
                    "Whenever you are curious where your home stands, we will prepare a personal value "
                    "review: recent sales near you, what buyers are paying for right now, and what it "
                    "could mean for your plans.",
                ),
            ),
        ),
    },
    "onboarding": {
        "introduction": (
            Copy(
                "Welcome: here is what to expect",
                "A few short emails to help you with {topic}.",
                (
                    "Thank you for getting in touch. We are glad to help you with {topic}.",
                    "Over the coming days we will send a few short emails: how the process works, what "
                    "to prepare, and how we can help. Each takes a couple of minutes to read.",
                    "If you already have a question, simply reply: a real person reads every message.",
                ),
            ),
        ),
        "value": (
            Copy(
                "How buying or selling works, step by step",
                "The process in plain words, from first call to keys.",
                (
                    "Whether you are buying or selling, the path has the same landmarks:",
                    (
                        "A first conversation about your goals, budget and timing",
                        "Preparation: a mortgage pre-approval for buyers, pricing and presentation "
                        "for sellers",
                        "Viewings and offers, with advice on every term",
                        "Inspection, appraisal and paperwork, through to closing",
                    ),
                    "We walk with you through each step and tell you in advance what comes next.",
                ),
            ),
            Copy(
                "What to prepare before you start",
                "A short list that saves weeks later.",
                (
                    "A little preparation up front makes every later step faster:",
                    (
                        "Your budget, and the monthly payment you are comfortable with",
                        "A mortgage pre-approval letter if you are buying",
                        "A list of must-haves and nice-to-haves",
                        "Recent statements and ID, which lenders and title companies ask for",
                    ),
                    "Not sure where to begin? Send us your questions and we will help you sort them.",
                ),
            ),
        ),
        "social_proof": (
            Copy(
                "Hear from people we have helped",
                "Real experiences from past clients.",
                (
                    "Choosing who to work with is a big decision, and you should hear from people who "
                    "have been where you are now.",
                    _PROOF,
                ),
            ),
        ),
        "call_to_action": (
            Copy(
                "Let's plan your next step",
                "A short call to map out {topic}.",
                (
                    "You now know how the process works and what helps it go smoothly. The next step "
                    "is a short conversation about your plans, with no obligation.",
                ),
            ),
        ),
    },
    "listing-promotion": {
        "introduction": (
            Copy(
                "Just listed: {address}",
                "{summary}",
                (
                    "We are pleased to share a new listing: {address}{in_area}.",
                    "@image",
                    "@facts",
                    "@highlights",
                ),
            ),
        ),
        "value": (
            Copy(
                "Inside {address}: the details",
                "Rooms, space and the features that stand out.",
                (
                    "Here is a closer look at {address}.",
                    "@fact_list",
                    "@highlight_list",
                    "Ask us for any document you would like to see before a visit.",
                ),
            ),
            Copy(
                "Life around {address}",
                "The neighborhood, the commute and everyday places.",
                (
                    "A home is also its neighborhood. When you visit, take a few minutes to walk the "
                    "street at different times of day, time the commute that matters to you, and look "
                    "up the schools and services nearby.",
                    "We are glad to share what we know about {area}: just ask.",
                ),
            ),
        ),
        "social_proof": (
            Copy(
                "Buying with someone in your corner",
                "What working with us looks like.",
                (
                    "Buying a home is easier with someone in your corner: we check the details, "
                    "explain every document and negotiate on your behalf.",
                    _PROOF,
                ),
            ),
        ),
        "call_to_action": (
            Copy(
                "See {address} in person",
                "Book a private viewing.",
                (
                    "@when",
                    "Photos only tell part of the story. The best way to know whether {address} is "
                    "right for you is to walk through it.",
                    "@image",
                ),
            ),
        ),
    },
    "market-update": {
        "introduction": (
            Copy(
                "{Area} market update",
                "The figures that matter right now.",
                (
                    "Here is our latest look at the housing market in {area}.",
                    "@stats",
                    "In the next emails we will explain what these figures mean for sellers and for buyers.",
                ),
            ),
        ),
        "value": (
            Copy(
                "What the market means if you are selling",
                "Pricing, timing and presentation in today's market.",
                ("@seller_notes",),
            ),
            Copy(
                "What the market means if you are buying",
                "Offers, timing and room to negotiate.",
                ("@buyer_notes",),
            ),
        ),
        "social_proof": (
            Copy(
                "Local knowledge, in practice",
                "Why the figures are only half the story.",
                (
                    "Market figures describe {area} as a whole; every street and every home has its "
                    "own story. Reading the difference is where local experience counts.",
                    _PROOF,
                ),
            ),
        ),
        "call_to_action": (
            Copy(
                "Your home's value in today's market",
                "A personal analysis based on the latest sales.",
                (
                    "Figures for {area} tell you where the market is; they do not tell you what your "
                    "own home would sell for. A personal market analysis does: recent comparable "
                    "sales, adjusted for your home's size, condition and features.",
                ),
            ),
        ),
    },
    "seasonal": {
        "introduction": (
            Copy(
                "Welcome to {season}",
                "What the season means for your home and your plans.",
                (
                    "@season_intro",
                    "In the next few emails we will share a checklist for your home and what {season} "
                    "usually means for the housing market in {area}.",
                ),
            ),
        ),
        "value": (
            Copy(
                "Your {season} home checklist",
                "A few tasks that keep your home in shape.",
                ("A few tasks that are worth doing this {season}:", "@season_checklist"),
            ),
            Copy(
                "{Season} and the housing market",
                "How the season usually shapes buying and selling.",
                ("@season_market",),
            ),
        ),
        "social_proof": (
            Copy(
                "A season with the right people on your side",
                "What working with us is like.",
                (
                    "Whatever the season, moving goes better with people who know {area} well.",
                    _PROOF,
                ),
            ),
        ),
        "call_to_action": (
            Copy(
                "Planning a move this {season}?",
                "Let's make the most of the season.",
                (
                    "If a move is on your mind this {season}, now is a good time to plan it: timing, "
                    "pricing and preparation all go better with a head start.",
                ),
            ),
        ),
    },
}


def copy_for(template: str, role: str, occurrence: int) -> Copy:
    """The copy of the `occurrence`-th email (from 0) of `role` in `template`: the template's own
    variants first, then the general ones of `custom` (cycling when even those run out)."""
    own = COPY[template][role]
    if occurrence < len(own):
        return own[occurrence]
    general = COPY[CUSTOM_TEMPLATE][role]
    offset = occurrence - len(own) if template != CUSTOM_TEMPLATE else occurrence
    return general[offset % len(general)]


# -- what each tone adds -------------------------------------------------------------------------------

GREETINGS = {
    "professional": 'Hello {{ firstName|default("there") }},',
    "friendly": 'Hi {{ firstName|default("there") }},',
    "enthusiastic": 'Hi {{ firstName|default("there") }}! 👋',
    "informative": 'Hello {{ firstName|default("there") }},',
}

# The call to action of the last email when details.cta gives none, per template and tone.
CALLS_TO_ACTION: dict[str, dict[str, str]] = {
    "nurture": {
        "professional": "Reply to this email to arrange your home value review.",
        "friendly": "Just hit reply and we'll put your home value review together.",
        "enthusiastic": "Reply now and we'll get your home value review started!",
        "informative": "Reply to this email to request a home value review.",
    },
    "onboarding": {
        "professional": "Reply with a time that suits you and we will call you.",
        "friendly": "Reply with a time that works for you and we'll give you a call.",
        "enthusiastic": "Reply with a good time and let's get started!",
        "informative": "Reply with a convenient time to schedule a call.",
    },
    "listing-promotion": {
        "professional": "Reply to this email to arrange a private viewing.",
        "friendly": "Reply and we'll set up a time to show you around.",
        "enthusiastic": "Book your private viewing today!",
        "informative": "Reply to this email to schedule a viewing.",
    },
    "market-update": {
        "professional": "Reply to this email to request your personal market analysis.",
        "friendly": "Curious what this means for your home? Just reply and we'll run the numbers.",
        "enthusiastic": "Reply now for your free market analysis!",
        "informative": "Reply to this email to request a market analysis for your property.",
    },
    "seasonal": {
        "professional": "Reply to this email to plan your move with us.",
        "friendly": "Thinking about it? Just reply and let's talk it through.",
        "enthusiastic": "Reply today and let's plan your move!",
        "informative": "Reply to this email to schedule a planning call.",
    },
    CUSTOM_TEMPLATE: {
        "professional": "Reply to this email and we will arrange a time to talk.",
        "friendly": "Just reply and we'll find a time to chat.",
        "enthusiastic": "Reply today and let's talk!",
        "informative": "Reply to this email to schedule a conversation.",
    },
}

# -- slots: copy that depends on the details -----------------------------------------------------------

SEASONS = ("spring", "summer", "autumn", "winter")
SEASON_ALIASES = {"fall": "autumn", "holidays": "winter", "holiday": "winter"}
# Northern-hemisphere meteorological seasons by month (a campaign can name its season instead).
SEASON_OF_MONTH = {
    12: "winter",
    1: "winter",
    2: "winter",
    3: "spring",
    4: "spring",
    5: "spring",
    6: "summer",
    7: "summer",
    8: "summer",
    9: "autumn",
    10: "autumn",
    11: "autumn",
}

SEASON_INTRO = {
    "spring": "Spring is the season many people start thinking about a move: longer days, gardens coming "
    "back to life and, in most years, the busiest stretch of the housing market.",
    "summer": "Summer brings long evenings and, for many families, the window between school years that "
    "makes moving easiest.",
    "autumn": "Autumn is a season of getting ready: for colder weather at home, and for the buyers and "
    "sellers who want to settle before the end of the year.",
    "winter": "Winter slows most things down, the housing market included, which makes it a good time to "
    "plan calmly and to look after your home.",
}

SEASON_CHECKLIST = {
    "spring": (
        "Clean the gutters and check the roof for winter damage",
        "Service the air conditioning before the first hot day",
        "Check window seals and screens",
        "Refresh the garden and the entrance: first impressions count",
    ),
    "summer": (
        "Check the irrigation and water the garden early or late in the day",
        "Clean the air-conditioning filters every month or two",
        "Look over decks, fences and paint while the weather is dry",
        "Check that smoke and carbon monoxide detectors work",
    ),
    "autumn": (
        "Service the heating system before it is needed",
        "Clear leaves from gutters and drains",
        "Seal gaps around doors and windows",
        "Drain and store outdoor hoses before the first frost",
    ),
    "winter": (
        "Keep the heating steady to protect pipes from freezing",
        "Check the attic for leaks and poor insulation",
        "Keep paths and steps clear and safe",
        "Test smoke and carbon monoxide detectors",
    ),
}

SEASON_MARKET = {
    "spring": (
        "Spring is usually the busiest season for buying and selling: more homes come to market, and more "
        "buyers are out looking.",
        "For sellers that means more competition as well as more interest, so presentation and pricing "
        "matter. For buyers it means more choice, and sometimes more competing offers.",
    ),
    "summer": (
        "Early summer often carries spring's momentum, while late summer tends to slow as holidays take "
        "over.",
        "Families who want to move between school years are active now, so homes that suit them can go "
        "quickly.",
    ),
    "autumn": (
        "Autumn usually brings a second, smaller wave of activity, from buyers and sellers who want to be "
        "settled before the end of the year.",
        "Fewer homes are listed than in spring, so well-presented homes can stand out.",
    ),
    "winter": (
        "Winter is typically the quietest season: fewer homes for sale and fewer buyers, but those who "
        "are looking tend to be serious.",
        "For sellers, less competition can be an advantage; for buyers, there can be more room to negotiate.",
    ),
}
