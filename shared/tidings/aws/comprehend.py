"""Amazon Comprehend for comment analysis: sentiment, toxicity and key phrases of many texts, in as
few calls as the documented limits allow (Comprehend API Reference):

- BatchDetectSentiment and BatchDetectKeyPhrases: at most 25 documents a call, each at most 5 KB of
  UTF-8 (sentiment reads only the first 500 characters); a document that fails comes back in
  `ErrorList` with its index, the others in `ResultList`.
- DetectToxicContent: at most 10 text segments a call, each at most 1 KB (10 KB in all), English
  only; one result per segment, in order, with a `Toxicity` score and `Labels` (PROFANITY,
  HATE_SPEECH, INSULT, GRAPHIC, HARASSMENT_OR_ABUSE, SEXUAL, VIOLENCE_OR_THREAT) each with a score.
  A longer text is sent as several segments and takes its most toxic one.

Texts are cut to those sizes on a character boundary. An empty text is not sent (Comprehend refuses
it) and has no result. A call that fails as a whole raises the client's error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

BATCH_DOCUMENTS = 25
DOCUMENT_BYTES = 5_000
TOXIC_SEGMENTS = 10
SEGMENT_BYTES = 1_000
# A comment longer than this many segments is judged on its first ones (10 KB of text).
MAX_SEGMENTS_PER_TEXT = 10
LANGUAGE = "en"


@dataclass(frozen=True)
class SentimentResult:
    sentiment: str  # POSITIVE, NEGATIVE, NEUTRAL or MIXED
    scores: dict[str, float]  # Positive, Negative, Neutral, Mixed


@dataclass(frozen=True)
class ToxicityResult:
    toxicity: float
    labels: dict[str, float]  # label name: score


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, on a character boundary."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def segments(text: str, limit: int = SEGMENT_BYTES) -> list[str]:
    """`text` in pieces of at most `limit` bytes, each split on a character boundary."""
    pieces: list[str] = []
    rest = text.strip()
    while rest and len(pieces) < MAX_SEGMENTS_PER_TEXT:
        piece = cut(rest, limit)
        pieces.append(piece)
        rest = rest[len(piece) :].strip()
    return pieces


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ComprehendText:
    """Comprehend's text analysis of many texts; each method answers one result per text, in order
    (None where the text was empty or Comprehend reported an error for it)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client  # a boto3 "comprehend" client (no type stubs are installed for it)

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("comprehend")
        return self._client

    def _batches(self, operation: str, texts: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        """(index in `texts`, result item) for each document Comprehend answered, in batches of 25."""
        sendable = [(i, cut(t, DOCUMENT_BYTES)) for i, t in enumerate(texts) if t.strip()]
        for chunk in _chunks(sendable, BATCH_DOCUMENTS):
            response = getattr(self.client, operation)(TextList=[t for _, t in chunk], LanguageCode=LANGUAGE)
            for item in response.get("ResultList", []):
                yield chunk[item["Index"]][0], item

    def sentiments(self, texts: Sequence[str]) -> list[SentimentResult | None]:
        results: list[SentimentResult | None] = [None] * len(texts)
        for index, item in self._batches("batch_detect_sentiment", texts):
            scores = {name: float(value) for name, value in item.get("SentimentScore", {}).items()}
            results[index] = SentimentResult(item["Sentiment"], scores)
        return results

    def key_phrases(self, texts: Sequence[str]) -> list[list[str] | None]:
        """Each text's key phrases, the most confident first."""
        results: list[list[str] | None] = [None] * len(texts)
        for index, item in self._batches("batch_detect_key_phrases", texts):
            phrases = sorted(item.get("KeyPhrases", []), key=lambda p: -float(p.get("Score", 0)))
            results[index] = [p["Text"] for p in phrases]
        return results

    def toxicity(self, texts: Sequence[str]) -> list[ToxicityResult | None]:
        """Each text's toxicity: the score and label scores of its most toxic segment."""
        pieces = [(i, piece) for i, text in enumerate(texts) for piece in segments(text)]
        results: list[ToxicityResult | None] = [None] * len(texts)
        for chunk in _chunks(pieces, TOXIC_SEGMENTS):
            response = self.client.detect_toxic_content(
                TextSegments=[{"Text": piece} for _, piece in chunk], LanguageCode=LANGUAGE
            )
            for (index, _), item in zip(chunk, response.get("ResultList", []), strict=True):
                found = ToxicityResult(
                    float(item.get("Toxicity", 0.0)),
                    {label["Name"]: float(label.get("Score", 0.0)) for label in item.get("Labels", [])},
                )
                current = results[index]
                if current is None or found.toxicity > current.toxicity:
                    results[index] = found
        return results
