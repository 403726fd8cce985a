"""What the comment analyzer takes and answers, and how an answer is stored.

An `Analysis` is stored as a plain map (`to_item`, `from_item`) with its numbers as `Decimal`, rounded
to four places, so it goes into a DynamoDB item as it is (boto3 refuses floats) and reads back equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

SENTIMENTS = ("positive", "neutral", "negative", "mixed")
DECISIONS = ("needs_response", "no_response", "hide", "escalate")
PLACES = 4  # scores are kept to four decimal places


def rounded(value: float) -> float:
    return round(float(value), PLACES)


@dataclass(frozen=True)
class CommentText:
    comment_id: str
    text: str
    platform: str
    author_id: str | None
    post_id: str | None


@dataclass(frozen=True)
class AnalysisContext:
    """`allow_hide`: whether the user lets toxic or spam comments be hidden. `recent_texts`: recent
    comment texts to compare against for near-duplicates across posts; they must not include the
    comments being analyzed (a comment is always a duplicate of itself)."""

    allow_hide: bool
    recent_texts: Sequence[str] = ()


@dataclass(frozen=True)
class Analysis:
    """One comment understood. `sentiment` is one of SENTIMENTS with a score for each in `scores`;
    `toxicity` 0..1 with the kinds of abuse found (Comprehend's names: PROFANITY, INSULT,
    HATE_SPEECH, VIOLENCE_OR_THREAT...); `spam` with its reasons (link, repeated_text,
    known_pattern, near_duplicate); up to five `keywords`; and the `decision` (one of DECISIONS) with
    the reasons that led to it."""

    sentiment: str
    scores: Mapping[str, float]
    toxicity: float
    toxicity_labels: tuple[str, ...]
    spam: bool
    spam_reasons: tuple[str, ...]
    keywords: tuple[str, ...]
    decision: str
    reasons: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.sentiment not in SENTIMENTS:
            raise ValueError(f"sentiment must be one of {SENTIMENTS}, not {self.sentiment!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {self.decision!r}")

    def to_item(self) -> dict[str, Any]:
        """A map for a DynamoDB item: numbers as Decimal, lists for the tuples."""
        return {
            "sentiment": self.sentiment,
            "scores": {name: _decimal(self.scores.get(name, 0.0)) for name in SENTIMENTS},
            "toxicity": _decimal(self.toxicity),
            "toxicityLabels": list(self.toxicity_labels),
            "spam": self.spam,
            "spamReasons": list(self.spam_reasons),
            "keywords": list(self.keywords),
            "decision": self.decision,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Analysis:
        """The analysis `to_item` stored (numbers may come back as Decimal, int or float)."""
        scores = item.get("scores") or {}
        return cls(
            sentiment=str(item["sentiment"]),
            scores={name: rounded(scores.get(name, 0)) for name in SENTIMENTS},
            toxicity=rounded(item.get("toxicity", 0)),
            toxicity_labels=tuple(item.get("toxicityLabels") or ()),
            spam=bool(item.get("spam")),
            spam_reasons=tuple(item.get("spamReasons") or ()),
            keywords=tuple(item.get("keywords") or ()),
            decision=str(item["decision"]),
            reasons=tuple(item.get("reasons") or ()),
        )


def _decimal(value: float) -> Decimal:
    return Decimal(str(rounded(value)))


class CommentAnalyzer(Protocol):
    def analyze(self, comments: Sequence[CommentText], context: AnalysisContext) -> list[Analysis]:
        """One analysis per comment, in the order given."""
        ...
