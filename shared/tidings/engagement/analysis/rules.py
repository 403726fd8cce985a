"""What the words of a comment say, by rule: a question, a buying signal, a complaint, legal or crisis
terms, spam, and keywords. Both analyzers use these; only sentiment, toxicity and (with Comprehend)
keywords come from elsewhere. Every pattern is compiled once, at import.

The lists are written for English comments on a real-estate business's posts. They miss what they do
not list (a complaint in words none of them has, sarcasm), so the decision that reads them
(`decision.decide`) also weighs sentiment and toxicity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tidings.workflows.gates import find_links


def _any_of(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)", re.IGNORECASE)


# A question: a question mark outside links, or a first word that opens one ("is it still
# available", "how much"); "what a view" and "how lovely" exclaim, and "would love to" is a wish.
_OPENS_QUESTION = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|should|has|have|any|who|where|when|which|why|"
    r"(?:what|who|where|when|how)['\u2019]s|what(?!\s+an?\b)|would(?!\s+(?:love|like)\b)|"
    r"how(?=\s+(?:much|many|long|old|big|far|soon|often|do|does|did|can|could|is|are|was|would|will|"
    r"should|about)\b))(?![\w'\u2019])",
    re.IGNORECASE,
)

# Asking to see, rent or buy, or about the price and the terms.
_BUYING = _any_of(
    r"view(?:ing)?s?",
    r"showings?",
    r"tour",
    r"open house",
    r"see (?:it|this|the (?:house|home|place|property|unit))",
    r"prices?",
    r"how much",
    r"asking",
    r"hoa",
    r"(?:monthly )?payments?",
    r"mortgage",
    r"pre-?approved",
    r"(?:make|making|accept|consider)(?: an?)? offers?",
    r"offers? (?:above|below|over|under)",
    r"apply",
    r"application",
    r"(?:still )?available",
    r"interested",
    r"rent(?:al)?s?",
    r"lease",
    r"move in",
    r"closing costs",
    r"(?:seller )?financing",
    r"fha",
    r"down payment",
    r"(?:more )?(?:info|information|details)",
    r"call me",
    r"floor ?plan",
)

# Said to the business about its service or the listing.
_COMPLAINT = _any_of(
    r"disappoint\w*",
    r"not (?:impressed|happy|ok|okay|acceptable)",
    r"mislead\w*",
    r"misled",
    r"worst",
    r"waste of (?:time|money)",
    r"never (?:returned|called|answered|responded|replied|showed|got back|explained)",
    r"(?:no ?one|nobody) (?:answers|answered|responds|responded|replied|got back|showed up|was there)",
    r"nobody is paying",
    r"unprofessional",
    r"frustrat\w*",
    r"(?:still|been) waiting",
    r"overpriced",
    r"ridiculous",
    r"awful",
    r"terrible",
    r"horrible",
    r"rude",
    r"cancell?ed (?:our|my|the)",
    r"lied",
    r"false advertising",
    r"not as (?:described|advertised)",
    r"complain\w*",
    r"refund",
    r"hate",
    r"bad (?:experience|service)",
    r"poor (?:service|communication)",
)

_LEGAL = _any_of(
    r"lawyers?",
    r"attorneys?",
    r"lawsuit",
    r"sue",
    r"suing",
    r"sued",
    r"(?:see you|take (?:you|this|them) to|in) court",
    r"legal action",
    r"litigation",
    r"small claims",
    r"cease and desist",
    r"breach(?:ed)?(?: of)?(?: the)? (?:contract|agreement|listing agreement)",
    r"fair housing",
    r"discriminat\w*",
    r"real estate commission",
    r"licensing board",
    r"better business bureau",
    r"attorney general",
    r"report(?:ing)? you to",
    r"fraud\w*",
)

# An emergency, harm to someone, or a public accusation that will spread.
_CRISIS = _any_of(
    r"gas leak",
    r"carbon monoxide",
    r"on fire",
    r"smoke coming",
    r"fire department",
    r"call 911",
    r"emergency",
    r"injured",
    r"injury",
    r"hospital",
    r"collapsed",
    r"flooded",
    r"(?:kids?|son|daughter|family|we|i|tenants?|children) (?:got|get|are|were|is|became) (?:sick|ill|hurt)",
    r"suicid\w*",
    r"kill myself",
    r"end(?:ing)? my life",
    r"want to die",
    r"(?:going|went|go) to the (?:news|press|media)",
    r"contact(?:ing|ed)? the (?:news|press|media)",
    r"scam(?:med|ming)?",
    r"boycott",
    r"police",
)

# Spam: what promoters, scammers and bots post (known patterns), shortened links, several links.
_SPAM_PATTERNS = _any_of(
    r"(?:make|earn|making|earning) \$?\d[\d,.]*k? (?:a|per) (?:day|week|month)",
    r"\$\d[\d,.]*k? (?:a|per) (?:day|week)",
    r"work(?:ing)? from home",
    r"passive income",
    r"guaranteed (?:returns?|profits?|income)",
    r"investment opportunity",
    r"double your money",
    r"(?:crypto|bitcoin|btc|forex)\w* (?:signals?|trading|account|investment|profits?)",
    r"(?:invest|trading|trade) (?:in |with )?(?:crypto|bitcoin|btc|forex)\w*",
    r"(?:contact|message|text|dm|inbox|add) (?:him|her|me|them) on (?:whatsapp|telegram)",
    r"telegram me",
    r"on whatsapp",
    r"check (?:out )?my (?:profile|bio|page|channel)",
    r"link in (?:my )?bio",
    r"visit my (?:page|profile|channel)",
    r"contact me (?:at|on|via) my page",
    r"follow for follow",
    r"f4f",
    r"follow back",
    r"(?:buy|cheap|free|get) (?:\d+k? )?(?:followers|likes|subscribers)",
    r"more views",
    r"free (?:iphone|gift cards?|giveaway)",
    r"giveaway winner",
    r"claim your (?:prize|reward|gift)",
    r"you have been selected",
    r"win a free",
    r"hot singles",
    r"sugar (?:daddy|mommy)",
    r"friend request",
    r"we buy houses",
    r"sell your house fast",
    r"cash offer for your (?:home|house)",
    r"motivated sellers",
    r"promote your (?:listing|page|business|account)",
    r"dm me for (?:a )?(?:collab|promo)",
)
_SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "goo.gl",
        "t.co",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "cutt.ly",
        "rebrand.ly",
        "shorturl.at",
        "tiny.cc",
        "rb.gy",
    }
)
_HOST = re.compile(r"^https?://([^/:?#]+)", re.IGNORECASE)

_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
# A near-duplicate: at least this many words, and this much of its 3-character shingles shared.
NEAR_DUPLICATE_MIN_WORDS = 6
NEAR_DUPLICATE_SIMILARITY = 0.8
# Repeated text: one word making up this share of a comment of at least 6 words, 4 times or more.
REPEATED_WORD_SHARE = 0.4

_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "just",
        "also",
        "really",
        "still",
        "got",
        "get",
        "please",
        "thanks",
        "thank",
        "one",
        "lol",
        "btw",
        "fyi",
        "ok",
        "okay",
        "yes",
        "yeah",
        "hey",
        "hi",
        "wow",
        "will",
        "like",
        "love",
        "know",
        "see",
    ]
)
_PHRASES = (
    "open house",
    "asking price",
    "floor plan",
    "closing costs",
    "virtual tour",
    "down payment",
    "square feet",
    "interest rates",
    "seller financing",
    "school district",
)
MAX_KEYWORDS = 5


@dataclass(frozen=True)
class TextSignals:
    question: bool
    buying_signal: bool
    complaint: bool
    legal: bool
    crisis: bool
    spam_reasons: tuple[str, ...]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def is_question(text: str) -> bool:
    without_links = text
    for link in find_links(text):
        without_links = without_links.replace(link, " ")
    return "?" in without_links or bool(_OPENS_QUESTION.match(without_links))


class Shingles:
    """Comments to find near-duplicates among: each kept as its set of 3-character shingles."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._sets = [s for s in (_shingles(t) for t in texts) if s]

    def add(self, text: str) -> None:
        shingles = _shingles(text)
        if shingles:
            self._sets.append(shingles)

    def has_near_duplicate(self, text: str) -> bool:
        mine = _shingles(text)
        if not mine:
            return False
        for other in self._sets:
            # Jaccard similarity; a length ratio below the threshold cannot reach it.
            if min(len(mine), len(other)) < NEAR_DUPLICATE_SIMILARITY * max(len(mine), len(other)):
                continue
            if len(mine & other) >= NEAR_DUPLICATE_SIMILARITY * len(mine | other):
                return True
        return False


def _shingles(text: str) -> frozenset[str]:
    tokens = words(text)
    if len(tokens) < NEAR_DUPLICATE_MIN_WORDS:
        return frozenset()
    joined = " ".join(tokens)
    return frozenset(joined[i : i + 3] for i in range(len(joined) - 2))


def spam_reasons(text: str, seen: Shingles, genuine: bool) -> tuple[str, ...]:
    """Why `text` is spam, if it is: `link` (a shortened link or several links), `repeated_text` (one
    word over and over), `known_pattern`, `near_duplicate` (of a text in `seen`). A comment that asks
    something or shows buying interest (`genuine`) is not called a near-duplicate: a buyer asks the
    same thing under several listings."""
    reasons: list[str] = []
    links = find_links(text)
    hosts = {m.group(1).lower().removeprefix("www.") for m in map(_HOST.match, links) if m}
    if len(links) >= 2 or hosts & _SHORTENERS:
        reasons.append("link")
    tokens = [t for t in words(text) if len(t) >= 3]
    if len(tokens) >= 6:
        count = Counter(tokens).most_common(1)[0][1]
        if count >= 4 and count >= REPEATED_WORD_SHARE * len(tokens):
            reasons.append("repeated_text")
    if _SPAM_PATTERNS.search(text):
        reasons.append("known_pattern")
    if not genuine and seen.has_near_duplicate(text):
        reasons.append("near_duplicate")
    return tuple(reasons)


def signals(text: str, seen: Shingles) -> TextSignals:
    question = is_question(text)
    buying = bool(_BUYING.search(text))
    return TextSignals(
        question=question,
        buying_signal=buying,
        complaint=bool(_COMPLAINT.search(text)),
        legal=bool(_LEGAL.search(text)),
        crisis=bool(_CRISIS.search(text)),
        spam_reasons=spam_reasons(text, seen, genuine=question or buying),
    )


def keywords(text: str) -> tuple[str, ...]:
    """Up to five keywords: the listed real-estate phrases found, then the other words that carry
    meaning (not stop words, not links or numbers, three letters or more), in order of appearance."""
    lowered = text.lower()
    for link in find_links(lowered):
        lowered = lowered.replace(link, " ")
    found = [p for p in _PHRASES if p in lowered]
    taken = {w for p in found for w in p.split()}
    for token in _WORD.findall(lowered):
        token = token.replace("\u2019", "'")
        if len(found) >= MAX_KEYWORDS:
            break
        if len(token) < 3 or token in _STOPWORDS or token in taken or token.isdigit():
            continue
        taken.add(token)
        found.append(token)
    return tuple(found[:MAX_KEYWORDS])


def ordered_unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
