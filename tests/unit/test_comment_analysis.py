"""Comment analysis: what a user sees decided for each comment, by the local analyzer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tidings.core.config import Settings
from tidings.engagement.analysis import (
    SENTIMENTS,
    Analysis,
    AnalysisContext,
    CommentText,
    local_analyzer,
    make_analyzer,
)
from tidings.engagement.analysis.comprehend import ComprehendAnalyzer
from tidings.engagement.analysis.local import LocalAnalyzer

ALLOW = AnalysisContext(allow_hide=True, recent_texts=())


def comment(text: str, n: int = 0, post: str | None = "p1") -> CommentText:
    return CommentText(f"c{n}", text, "facebook", f"a{n}", post)


def analyze(text: str, context: AnalysisContext = ALLOW) -> Analysis:
    return local_analyzer().analyze([comment(text)], context)[0]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Is this still available?", "question"),
        ("how much is the HOA", "question"),
        ("I'd love to book a viewing on Saturday", "buying_signal"),
        ("Price please", "buying_signal"),
        ("Nobody answered my calls all week, very disappointed", "complaint"),
    ],
)
def test_questions_complaints_and_buying_signals_need_a_response(text: str, reason: str) -> None:
    result = analyze(text)

    assert result.decision == "needs_response"
    assert reason in result.reasons


def test_praise_needs_no_response_and_reads_positive() -> None:
    result = analyze("What a gorgeous kitchen, congrats on the listing!")

    assert (result.decision, result.reasons) == ("no_response", ("nothing_to_answer",))
    assert result.sentiment == "positive"
    assert set(result.scores) == set(SENTIMENTS)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.scores["positive"] > result.scores["negative"]


def test_a_complaint_is_negative_even_in_words_vader_does_not_know() -> None:
    result = analyze("Your agent never returned my emails.")

    assert result.sentiment == "negative"


def test_abuse_is_hidden_when_the_user_allows_it_and_kept_with_the_reason_when_not() -> None:
    text = "You are an idiot and a scumbag"

    hidden = analyze(text)
    kept = analyze(text, AnalysisContext(allow_hide=False, recent_texts=()))

    assert hidden.decision == "hide"
    assert hidden.toxicity > 0.5
    assert hidden.toxicity_labels == ("INSULT",)
    assert kept.decision == "no_response"
    assert kept.reasons == ("toxic", "hiding_not_allowed")


def test_a_threat_is_escalated_never_hidden() -> None:
    result = analyze(
        "Watch your back, I know where you live", AnalysisContext(allow_hide=True, recent_texts=())
    )

    assert result.decision == "escalate"
    assert result.reasons == ("threat",)
    assert "VIOLENCE_OR_THREAT" in result.toxicity_labels
    assert result.sentiment == "negative"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("My lawyer will contact you about the deposit", "legal"),
        ("There is a gas leak at the open house, call 911", "crisis"),
    ],
)
def test_legal_and_crisis_terms_are_escalated(text: str, reason: str) -> None:
    assert analyze(text).reasons == (reason,)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Great deals at http://bit.ly/abc123", "link"),
        ("See http://a.example and http://b.example now", "link"),
        ("wow wow wow wow amazing wow house", "repeated_text"),
        ("Earn $400 a day working from home, check my profile", "known_pattern"),
        ("We buy houses for cash in any condition", "known_pattern"),
    ],
)
def test_spam_is_recognised_with_its_reason(text: str, reason: str) -> None:
    result = analyze(text)

    assert result.spam
    assert reason in result.spam_reasons
    assert result.decision == "hide"


def test_a_single_ordinary_link_is_not_spam() -> None:
    result = analyze("Is this the same house as https://www.example.com/listing/42 ?")

    assert not result.spam
    assert result.decision == "needs_response"


def test_the_same_text_posted_across_posts_is_spam_but_not_the_first_time() -> None:
    text = "Stunning property, my buyers list is ready for homes like this one"
    recent = ["stunning property!! my buyers list is ready for homes like this one", "Nice"]

    first = analyze(text)
    again = analyze(text, AnalysisContext(allow_hide=True, recent_texts=recent))

    assert not first.spam
    assert again.spam_reasons == ("near_duplicate",)
    assert again.decision == "hide"


def test_near_duplicates_within_one_batch_flag_the_later_copies() -> None:
    text = "Sharing this with all my friends and family today, what a place"
    comments = [comment(text, 1, "p1"), comment(text, 2, "p2"), comment("Nice one", 3, "p3")]

    results = local_analyzer().analyze(comments, ALLOW)

    assert [r.spam for r in results] == [False, True, False]


def test_a_buyer_asking_the_same_thing_under_several_listings_is_not_spam() -> None:
    text = "Is this still available? We are pre-approved and looking to move in March"

    result = analyze(text, AnalysisContext(allow_hide=True, recent_texts=[text]))

    assert not result.spam
    assert result.decision == "needs_response"


def test_short_common_comments_are_not_near_duplicates() -> None:
    assert not analyze("Beautiful home!", AnalysisContext(True, ["Beautiful home!"] * 5)).spam


def test_keywords_name_what_the_comment_is_about() -> None:
    result = analyze("When is the open house? Does the kitchen have a gas stove?")

    assert result.keywords[0] == "open house"
    assert {"kitchen", "gas", "stove"} <= set(result.keywords)
    assert "the" not in result.keywords


def test_an_analysis_stores_without_floats_and_reads_back_equal() -> None:
    result = analyze("Lovely house but way overpriced, what's the lowest price?")

    item = result.to_item()

    def numbers(value: object) -> list[object]:
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        return [value] if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else []

    assert numbers(item)
    assert all(isinstance(n, Decimal) for n in numbers(item))
    assert Analysis.from_item(item) == result


def test_an_empty_comment_is_analyzed_as_nothing_to_answer() -> None:
    result = analyze("   ")

    assert (result.decision, result.sentiment, result.spam) == ("no_response", "neutral", False)


def test_an_unknown_decision_or_sentiment_is_refused() -> None:
    good = analyze("Nice")

    with pytest.raises(ValueError, match="decision"):
        Analysis(**{**good.__dict__, "decision": "reply"})
    with pytest.raises(ValueError, match="sentiment"):
        Analysis(**{**good.__dict__, "sentiment": "happy"})


def test_the_stack_setting_chooses_the_analyzer() -> None:
    assert isinstance(make_analyzer(Settings.from_env({})), LocalAnalyzer)
    chosen = make_analyzer(Settings.from_env({"TIDINGS_COMMENT_ANALYZER": "comprehend"}), client=object())
    assert isinstance(chosen, ComprehendAnalyzer)
    with pytest.raises(ValueError, match="comment_analyzer"):
        Settings.from_env({"TIDINGS_COMMENT_ANALYZER": "openai"})
