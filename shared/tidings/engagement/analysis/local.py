"""The local analyzer: VADER for sentiment, the content gate's word list for toxicity, the rules for
the rest. No network, no model download: VADER's lexicons ship inside its package.

Why VADER through the `vaderSentiment` package (its authors' implementation, MIT): it is built for
short social-media text (emoji, capitals, "!!!", negation, "but"), needs no model, and its lexicon is
in the wheel. NLTK's copy of VADER needs its lexicon fetched with `nltk.download` at run time, which a
Lambda function cannot rely on, and brings all of NLTK into the layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from tidings.engagement.analysis.assemble import Measured, analysis, batch_signals
from tidings.engagement.analysis.model import Analysis, AnalysisContext, CommentText
from tidings.engagement.analysis.rules import keywords
from tidings.workflows.gates import toxicity

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's documented thresholds on its compound score (its README, "About the Scoring").
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
# Both positive and negative words, each at least this share of the text: mixed.
MIXED_SHARE = 0.15
# Words VADER's lexicon lacks or reads otherwise, with the valence they carry in comments on a
# real-estate business's posts (VADER's scale, -4..4). "fire" is left as it is: here 🔥 is praise,
# but "on fire" is an emergency, which the crisis rule must find whatever the sentiment.
DOMAIN_VALENCE = {
    "overpriced": -2.0,
    "cozy": 1.9,
    "goals": 1.5,
    "scamming": -2.7,
    "flooded": -1.5,
    # a courtesy, not a feeling: "price please" asks, it does not praise
    "please": 0.0,
}
# The word list's categories as Comprehend names the kinds of toxic content; "moderate" and "mild"
# words add to the score but name no kind of abuse.
LABELS = {
    "profanity": "PROFANITY",
    "threat": "VIOLENCE_OR_THREAT",
    "demeaning": "HATE_SPEECH",
    "insult": "INSULT",
}


@lru_cache(maxsize=1)
def vader() -> SentimentIntensityAnalyzer:
    """One VADER per process (it reads its lexicons once), with the domain's valences added."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(DOMAIN_VALENCE)
    return analyzer


def sentiment(text: str) -> tuple[str, dict[str, float]]:
    """VADER's label (its compound score against ±0.05; mixed where both positive and negative words
    make up at least 15% of the text), and a score for each label: VADER's shares of positive,
    negative and neutral text, and a mixed score (the smaller of the positive and negative shares,
    doubled), scaled to add up to 1."""
    polarity = vader().polarity_scores(text)
    pos, neg, neu = polarity["pos"], polarity["neg"], polarity["neu"]
    compound = polarity["compound"]
    if pos >= MIXED_SHARE and neg >= MIXED_SHARE:
        label = "mixed"
    elif compound >= POSITIVE_AT:
        label = "positive"
    elif compound <= NEGATIVE_AT:
        label = "negative"
    else:
        label = "neutral"
    raw = {"positive": pos, "negative": neg, "neutral": neu, "mixed": 2 * min(pos, neg)}
    total = sum(raw.values()) or 1.0
    return label, {name: value / total for name, value in raw.items()}


def toxic(text: str) -> tuple[float, tuple[str, ...]]:
    """The word list's toxicity score and the kinds of abuse its terms name."""
    score = toxicity(text)
    return score.score, tuple(sorted({LABELS[c] for c in score.categories if c in LABELS}))


def measure(text: str) -> Measured:
    return Measured(*sentiment(text), *toxic(text), keywords(text))


class LocalAnalyzer:
    def analyze(self, comments: Sequence[CommentText], context: AnalysisContext) -> list[Analysis]:
        found = batch_signals(comments, context)
        return [
            analysis(measure(comment.text), signals, context.allow_hide)
            for comment, signals in zip(comments, found, strict=True)
        ]
