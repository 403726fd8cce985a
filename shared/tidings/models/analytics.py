"""Engagement facts about past posts, as the timing and reporting models read them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from tidings.core.platforms import Platform


@dataclass(frozen=True)
class EngagementSample:
    """One past post: when it went out and how it did."""

    platform: Platform
    published_at: datetime  # timezone-aware
    engagement: float  # interactions (likes + comments + shares ...)
    reach: float | None = None  # people reached, when known
    content_type: str | None = None  # "photo", "video", "status", "link" ...

    def __post_init__(self) -> None:
        if self.published_at.tzinfo is None or self.published_at.utcoffset() is None:
            raise ValueError("published_at must be timezone-aware")
        if not math.isfinite(self.engagement) or self.engagement < 0:
            raise ValueError(f"engagement must be a finite number >= 0, got {self.engagement!r}")
        if self.reach is not None and (not math.isfinite(self.reach) or self.reach < 0):
            raise ValueError(f"reach must be a finite number >= 0, got {self.reach!r}")
