"""The Comprehend analyzer: sentiment, toxicity and keywords from Amazon Comprehend (batched at its
limits by `tidings.aws.comprehend`), the rules and the decision as the local analyzer has them.

A comment Comprehend gave no result for (an empty text, or one it reported an error for in a batch)
takes the local analyzer's measure for that part, so every comment gets an analysis; a call that
fails as a whole raises, for the caller to retry.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidings.aws.comprehend import ComprehendText, SentimentResult, ToxicityResult
from tidings.engagement.analysis import local
from tidings.engagement.analysis.assemble import Measured, analysis, batch_signals
from tidings.engagement.analysis.model import Analysis, AnalysisContext, CommentText
from tidings.engagement.analysis.rules import MAX_KEYWORDS, keywords, ordered_unique

# A toxicity label counts at this score or above (Comprehend's scores are confidences, 0..1).
LABEL_AT = 0.5


def _sentiment(result: SentimentResult) -> tuple[str, dict[str, float]]:
    return result.sentiment.lower(), {name.lower(): score for name, score in result.scores.items()}


def _toxicity(result: ToxicityResult) -> tuple[float, tuple[str, ...]]:
    return result.toxicity, tuple(sorted(name for name, score in result.labels.items() if score >= LABEL_AT))


class ComprehendAnalyzer:
    def __init__(self, comprehend: ComprehendText) -> None:
        self.comprehend = comprehend

    def analyze(self, comments: Sequence[CommentText], context: AnalysisContext) -> list[Analysis]:
        texts = [c.text for c in comments]
        sentiments = self.comprehend.sentiments(texts)
        toxicities = self.comprehend.toxicity(texts)
        phrases = self.comprehend.key_phrases(texts)
        found = batch_signals(comments, context)
        results = []
        for i, text in enumerate(texts):
            sentiment, toxicity, key_phrases = sentiments[i], toxicities[i], phrases[i]
            label, scores = _sentiment(sentiment) if sentiment else local.sentiment(text)
            score, labels = _toxicity(toxicity) if toxicity else local.toxic(text)
            words = ordered_unique([p.lower() for p in key_phrases or ()])[:MAX_KEYWORDS] or keywords(text)
            measured = Measured(label, scores, score, labels, words)
            results.append(analysis(measured, found[i], context.allow_hide))
        return results
