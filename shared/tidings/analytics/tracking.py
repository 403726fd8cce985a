"""From the table's stream: a post that reached `published` or `partially_published` starts its
metrics collection on each platform it went out on (the analytics_sync function's stream mapping)."""

from __future__ import annotations

from typing import Any

from tidings.analytics.collection import MetricsCollection
from tidings.store.posts import became_published, post_from_stream


class PublishedPostTracker:
    """A StreamConsumer (tidings.core.streams): idempotent, as tracking a tracked post changes nothing."""

    def __init__(self, collection: MetricsCollection) -> None:
        self.collection = collection

    def wants(self, record: dict[str, Any]) -> bool:
        return became_published(record)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        self.collection.track_published(post_from_stream(record))

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each post is tracked as its record arrives."""
