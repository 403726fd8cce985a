"""The Comprehend analyzer through botocore's Stubber (moto answers none of BatchDetectSentiment,
BatchDetectKeyPhrases or DetectToxicContent): requests batched at the documented limits, responses
shaped as the API Reference documents them, and the same decision rule as the local analyzer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tidings.aws.comprehend import ComprehendText, segments
from tidings.engagement.analysis import AnalysisContext, CommentText, comprehend_analyzer

CONTEXT = AnalysisContext(allow_hide=True, recent_texts=())


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber]]:
    comprehend = boto3.client(
        "comprehend", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    with Stubber(comprehend) as stubber:
        yield comprehend, stubber
        stubber.assert_no_pending_responses()


def sentiment_item(index: int, label: str = "NEUTRAL", **scores: float) -> dict[str, Any]:
    values = {"Positive": 0.02, "Negative": 0.02, "Neutral": 0.95, "Mixed": 0.01, **scores}
    return {"Index": index, "Sentiment": label, "SentimentScore": values}


def toxic_item(toxicity: float = 0.01, **labels: float) -> dict[str, Any]:
    return {
        "Toxicity": toxicity,
        "Labels": [{"Name": name, "Score": score} for name, score in labels.items()],
    }


def expect_batch(
    stubber: Stubber,
    operation: str,
    texts: list[str],
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]] | None = None,
) -> None:
    stubber.add_response(
        operation,
        {"ResultList": results, "ErrorList": errors or []},
        {"TextList": texts, "LanguageCode": "en"},
    )


def expect_toxicity(stubber: Stubber, texts: list[str], results: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "detect_toxic_content",
        {"ResultList": results},
        {"TextSegments": [{"Text": t} for t in texts], "LanguageCode": "en"},
    )


def comments(*texts: str) -> list[CommentText]:
    return [CommentText(f"c{i}", t, "instagram", None, "p1") for i, t in enumerate(texts)]


def test_thirty_comments_go_in_batches_of_25_documents_and_10_segments(client: tuple[Any, Stubber]) -> None:
    comprehend, stubber = client
    texts = [f"Is unit {i} still available?" for i in range(30)]
    for chunk in (texts[:25], texts[25:]):
        expect_batch(stubber, "batch_detect_sentiment", chunk, [sentiment_item(i) for i in range(len(chunk))])
    for chunk in (texts[:10], texts[10:20], texts[20:]):
        expect_toxicity(stubber, chunk, [toxic_item() for _ in chunk])
    for chunk in (texts[:25], texts[25:]):
        phrases = [{"Index": i, "KeyPhrases": [{"Text": "unit", "Score": 0.9}]} for i in range(len(chunk))]
        expect_batch(stubber, "batch_detect_key_phrases", chunk, phrases)

    results = comprehend_analyzer(comprehend).analyze(comments(*texts), CONTEXT)

    assert len(results) == 30
    assert all(r.decision == "needs_response" and r.sentiment == "neutral" for r in results)
    assert results[0].scores == {"positive": 0.02, "negative": 0.02, "neutral": 0.95, "mixed": 0.01}
    assert results[29].keywords == ("unit",)


def test_comprehends_labels_and_scores_drive_the_shared_decision(client: tuple[Any, Stubber]) -> None:
    comprehend, stubber = client
    texts = ["you absolute clown", "Stay away from my house or else", "Lovely porch"]
    expect_batch(
        stubber,
        "batch_detect_sentiment",
        texts,
        [
            sentiment_item(0, "NEGATIVE", Negative=0.9, Neutral=0.08),
            sentiment_item(1, "NEGATIVE", Negative=0.8, Neutral=0.18),
            sentiment_item(2, "POSITIVE", Positive=0.97, Neutral=0.0),
        ],
    )
    expect_toxicity(
        stubber,
        texts,
        [
            toxic_item(0.86, INSULT=0.91, PROFANITY=0.2),
            toxic_item(0.74, VIOLENCE_OR_THREAT=0.81, HARASSMENT_OR_ABUSE=0.4),
            toxic_item(0.01, INSULT=0.01),
        ],
    )
    expect_batch(
        stubber,
        "batch_detect_key_phrases",
        texts,
        [
            {"Index": 0, "KeyPhrases": []},
            {"Index": 1, "KeyPhrases": [{"Text": "my house", "Score": 0.99}]},
            {"Index": 2, "KeyPhrases": [{"Text": "Lovely porch", "Score": 0.99}]},
        ],
    )

    insult, threat, praise = comprehend_analyzer(comprehend).analyze(comments(*texts), CONTEXT)

    # the word list knows no "clown": Comprehend's label decides
    assert (insult.decision, insult.toxicity_labels, insult.toxicity) == ("hide", ("INSULT",), 0.86)
    assert insult.keywords == ("absolute", "clown")  # no key phrases: the local keywords
    assert (threat.decision, threat.reasons) == ("escalate", ("threat",))
    assert threat.keywords == ("my house",)
    assert (praise.decision, praise.sentiment, praise.toxicity_labels) == ("no_response", "positive", ())
    assert praise.keywords == ("lovely porch",)


def test_a_document_comprehend_reports_an_error_for_takes_the_local_measure(
    client: tuple[Any, Stubber],
) -> None:
    comprehend, stubber = client
    texts = ["Love it!", "Terrible, awful service"]
    error = {"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "try again"}
    expect_batch(
        stubber, "batch_detect_sentiment", texts, [sentiment_item(0, "POSITIVE", Positive=0.9)], [error]
    )
    expect_toxicity(stubber, texts, [toxic_item(), toxic_item()])
    expect_batch(stubber, "batch_detect_key_phrases", texts, [], [{**error, "Index": 0}, error])

    love, terrible = comprehend_analyzer(comprehend).analyze(comments(*texts), CONTEXT)

    assert love.sentiment == "positive"
    assert terrible.sentiment == "negative"  # VADER's reading
    assert terrible.decision == "needs_response"
    assert terrible.keywords == ("terrible", "awful", "service")


def test_an_empty_comment_is_not_sent(client: tuple[Any, Stubber]) -> None:
    comprehend, stubber = client
    expect_batch(stubber, "batch_detect_sentiment", ["Nice"], [sentiment_item(0, "POSITIVE", Positive=0.9)])
    expect_toxicity(stubber, ["Nice"], [toxic_item()])
    expect_batch(stubber, "batch_detect_key_phrases", ["Nice"], [])

    empty, nice = comprehend_analyzer(comprehend).analyze(comments("  ", "Nice"), CONTEXT)

    assert (empty.sentiment, empty.decision) == ("neutral", "no_response")
    assert nice.sentiment == "positive"


def test_a_long_comment_is_judged_by_its_most_toxic_segment(client: tuple[Any, Stubber]) -> None:
    comprehend, stubber = client
    text = ("nice house " * 120) + "and you are scum"
    pieces = segments(text)
    assert len(pieces) == 2
    assert all(len(p.encode()) <= 1000 for p in pieces)
    stubber.add_response("batch_detect_sentiment", {"ResultList": [sentiment_item(0)], "ErrorList": []}, None)
    expect_toxicity(stubber, pieces, [toxic_item(0.02), toxic_item(0.9, INSULT=0.95)])
    stubber.add_response("batch_detect_key_phrases", {"ResultList": [], "ErrorList": []}, None)

    (result,) = comprehend_analyzer(comprehend).analyze(comments(text), CONTEXT)

    assert result.toxicity_labels == ("INSULT",)
    assert result.decision == "hide"


def test_texts_are_cut_to_the_documented_sizes_on_a_character_boundary(client: tuple[Any, Stubber]) -> None:
    comprehend, stubber = client
    text = "é" * 3000  # 6,000 bytes of UTF-8
    sent = "é" * 2500  # 5,000 bytes
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [], "ErrorList": []},
        {"TextList": [sent], "LanguageCode": "en"},
    )

    assert ComprehendText(comprehend).sentiments([text]) == [None]
    assert [len(p.encode()) for p in segments(text)] == [1000] * 6


def test_a_failed_call_raises_for_the_caller_to_retry(client: tuple[Any, Stubber]) -> None:
    comprehend, stubber = client
    stubber.add_client_error("batch_detect_sentiment", "ThrottlingException", http_status_code=400)

    with pytest.raises(comprehend.exceptions.ClientError, match="Throttling"):
        comprehend_analyzer(comprehend).analyze(comments("Hi"), CONTEXT)
