"""From the table's stream: a post that reached `published` or `partially_published` starts its
metrics collection on each platform it went out on (the analytics_sync function's stream mapping)."""

from __future__ import annotations

from typing import Any

from tidings.analytics.collection import MetricsCollection
from tidings.models.posts import PostStatus
from tidings.store import keys
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.posts import post_from_item

_DONE = frozenset({str(PostStatus.PUBLISHED), str(PostStatus.PARTIALLY_PUBLISHED)})


def _status(record: dict[str, Any], image: str) -> str | None:
    value = record.get("dynamodb", {}).get(image, {}).get("status", {}).get("S")
    return str(value) if value is not None else None


class PublishedPostTracker:
    """A StreamConsumer (tidings.core.streams): idempotent, as tracking a tracked post changes nothing."""

    def __init__(self, collection: MetricsCollection) -> None:
        self.collection = collection

    def wants(self, record: dict[str, Any]) -> bool:
        new = _status(record, "NewImage")
        return new in _DONE and _status(record, "OldImage") != new and record_of(record, keys.POST_ENTITY)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        post = post_from_item(deserialize_stream_image(record["dynamodb"]["NewImage"]))
        self.collection.track_published(post)

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each post is tracked as its record arrives."""
