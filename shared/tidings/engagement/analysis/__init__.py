"""Comment analysis: for each comment, its sentiment with scores, toxicity with labels, spam with
reasons, keywords, and a decision (needs_response, no_response, hide, escalate) with its reasons.

Two analyzers behind one interface (`CommentAnalyzer`): the local one (VADER, the content gate's
toxicity word list and the rules in `rules`), the default everywhere, and Amazon Comprehend's, chosen
for a stack with TIDINGS_COMMENT_ANALYZER=comprehend. Both decide by the one rule in `decision`.

    analyzer = make_analyzer(get_settings())
    results = analyzer.analyze(comments, AnalysisContext(allow_hide=True, recent_texts=recent))
    item = results[0].to_item()   # Decimal numbers, ready for a DynamoDB item
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidings.engagement.analysis.model import (
    DECISIONS,
    SENTIMENTS,
    Analysis,
    AnalysisContext,
    CommentAnalyzer,
    CommentText,
)

if TYPE_CHECKING:
    from tidings.core.config import Settings

__all__ = [
    "DECISIONS",
    "SENTIMENTS",
    "Analysis",
    "AnalysisContext",
    "CommentAnalyzer",
    "CommentText",
    "comprehend_analyzer",
    "local_analyzer",
    "make_analyzer",
]


def local_analyzer() -> CommentAnalyzer:
    """The local analyzer (VADER is loaded on its first comment, once per process)."""
    from tidings.engagement.analysis.local import LocalAnalyzer

    return LocalAnalyzer()


def comprehend_analyzer(client: Any | None = None) -> CommentAnalyzer:
    """The Comprehend analyzer over a boto3 "comprehend" client (made on first use when None)."""
    from tidings.aws.comprehend import ComprehendText
    from tidings.engagement.analysis.comprehend import ComprehendAnalyzer

    return ComprehendAnalyzer(ComprehendText(client))


def make_analyzer(settings: Settings, client: Any | None = None) -> CommentAnalyzer:
    """Comprehend's analyzer where the stack turned it on (`comment_analyzer` "comprehend"), else the
    local one."""
    if settings.comment_analyzer == "comprehend":
        return comprehend_analyzer(client)
    return local_analyzer()
