"""The comment intake analyses with the analyzer the stack chose: Amazon Comprehend's when
TIDINGS_COMMENT_ANALYZER=comprehend (botocore's Stubber answers for it), the local one otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tidings.core.config import get_settings
from tidings.models.comments import Comment, CommentSource
from tidings.store.memory.comment_settings import InMemoryCommentSettingsRepository
from tidings.wiring import engagement

TEXT = "Is it still available?"


@pytest.fixture
def wiring(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setattr(engagement, "comment_settings_repository", InMemoryCommentSettingsRepository)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def comment() -> Comment:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return Comment(
        user_id="ann",
        platform="facebook",
        platform_comment_id="1_2",
        platform_post_id="1_1",
        text=TEXT,
        created_at=now,
        source=CommentSource.WEBHOOK,
        received_at=now,
        updated_at=now,
    )


def stubbed_comprehend() -> tuple[Any, Stubber]:
    client = boto3.client(
        "comprehend", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    stubber = Stubber(client)
    scores = {"Positive": 0.1, "Negative": 0.1, "Neutral": 0.1, "Mixed": 0.7}
    stubber.add_response(
        "batch_detect_sentiment",
        {"ResultList": [{"Index": 0, "Sentiment": "MIXED", "SentimentScore": scores}], "ErrorList": []},
        {"TextList": [TEXT], "LanguageCode": "en"},
    )
    stubber.add_response(
        "detect_toxic_content",
        {"ResultList": [{"Toxicity": 0.01, "Labels": []}]},
        {"TextSegments": [{"Text": TEXT}], "LanguageCode": "en"},
    )
    stubber.add_response(
        "batch_detect_key_phrases",
        {
            "ResultList": [{"Index": 0, "KeyPhrases": [{"Text": "comprehend phrase", "Score": 0.9}]}],
            "ErrorList": [],
        },
        {"TextList": [TEXT], "LanguageCode": "en"},
    )
    return client, stubber


def test_with_comprehend_chosen_the_intake_analyses_through_comprehend(wiring: pytest.MonkeyPatch) -> None:
    wiring.setenv("TIDINGS_COMMENT_ANALYZER", "comprehend")
    client, stubber = stubbed_comprehend()
    wiring.setattr(boto3, "client", lambda service, *a, **k: client if service == "comprehend" else None)
    analyzer = engagement.comment_analyzer()
    assert analyzer is not None

    with stubber:
        (result,) = analyzer.analyze([comment()], [])
        stubber.assert_no_pending_responses()

    assert (result.sentiment, result.decision) == ("mixed", "needs_response")
    assert "comprehend phrase" in result.keywords


def test_by_default_the_intake_analyses_locally_and_calls_no_aws_service(wiring: pytest.MonkeyPatch) -> None:
    wiring.delenv("TIDINGS_COMMENT_ANALYZER", raising=False)

    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the local analyzer made an AWS client")

    wiring.setattr(boto3, "client", no_client)
    analyzer = engagement.comment_analyzer()
    assert analyzer is not None

    (result,) = analyzer.analyze([comment()], [])

    assert result.decision == "needs_response"
    assert "comprehend phrase" not in result.keywords
