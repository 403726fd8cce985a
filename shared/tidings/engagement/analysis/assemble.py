"""What both analyzers share: the text rules over a batch (near-duplicates among the batch and the
context's recent texts), the sentiment label's adjustments, and the decision, so an analyzer only
supplies sentiment scores, toxicity and keywords."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tidings.engagement.analysis.decision import decide
from tidings.engagement.analysis.model import SENTIMENTS, Analysis, AnalysisContext, CommentText, rounded
from tidings.engagement.analysis.rules import Shingles, TextSignals, signals


@dataclass(frozen=True)
class Measured:
    """What an analyzer measured in one comment: a sentiment label with a score for each label,
    toxicity 0..1 with its labels, keywords."""

    sentiment: str
    scores: Mapping[str, float]
    toxicity: float
    toxicity_labels: tuple[str, ...]
    keywords: tuple[str, ...]


def batch_signals(comments: Sequence[CommentText], context: AnalysisContext) -> list[TextSignals]:
    """The text signals of each comment, each compared for near-duplicates with the context's recent
    texts and the comments before it in the batch."""
    seen = Shingles(context.recent_texts)
    found = []
    for comment in comments:
        found.append(signals(comment.text, seen))
        seen.add(comment.text)
    return found


def finding_sentiment(label: str, labels: tuple[str, ...], found: TextSignals) -> str:
    """The sentiment label, corrected by what the rules found: a comment with a threat, legal or
    crisis terms or abuse is negative; one with a complaint is never neutral (a lexicon misses
    "never returned my emails"), and a complaint in a positive comment makes it mixed."""
    if found.legal or found.crisis or labels:
        return "negative"
    if found.complaint:
        return {"neutral": "negative", "positive": "mixed"}.get(label, label)
    return label


def analysis(measured: Measured, found: TextSignals, allow_hide: bool) -> Analysis:
    decision, reasons = decide(measured.toxicity_labels, found, allow_hide)
    return Analysis(
        sentiment=finding_sentiment(measured.sentiment, measured.toxicity_labels, found),
        scores={name: rounded(measured.scores.get(name, 0.0)) for name in SENTIMENTS},
        toxicity=rounded(measured.toxicity),
        toxicity_labels=measured.toxicity_labels,
        spam=bool(found.spam_reasons),
        spam_reasons=found.spam_reasons,
        keywords=measured.keywords,
        decision=decision,
        reasons=reasons,
    )
