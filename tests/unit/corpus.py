"""Loaders for the real engagement data in ``../shared/corpora/social-engagement``.

Two UCI data sets (CC BY 4.0), cite them where they are used:

- "Facebook metrics": Moro, Rita and Vala (2016), "Predicting social media performance metrics and
  evaluation of the impact on brand building", Journal of Business Research 69(9). 500 posts of one
  cosmetics brand's page published in 2014, with month, weekday and hour but no date.
- "Facebook Live Sellers in Thailand": Dehouche (2020), "Dataset on usage and engagement patterns for
  Facebook Live sellers in Thailand", Data in Brief. 7,050 posts with timestamps and reactions,
  comments and shares.

Quirks handled here:

- Live sellers: ``status_published`` mixes ``4/22/2018 6:00`` and ``04-11-2018 04:53`` (both month
  first); 54 rows repeat another row in everything but ``status_id`` and are dropped (the first is
  kept); timestamps carry no time zone, so the caller says which zone they are local to.
- Facebook metrics: empty cells (``like``, ``share``) are read as missing, not as zero, and
  ``Total Interactions`` (always present) is the engagement. ``Post Weekday`` runs 1..7 from Sunday:
  the rows are newest first, and the newest (December, weekday 4) and oldest (January, weekday 4) both
  match 2014's first and last days, Wednesdays. With no date, each post is placed on a reference week
  (Sunday 2014-01-05 .. Saturday 2014-01-11) at its weekday and hour in the caller's time zone, which
  keeps exactly what the data knows: weekday and hour.

``TIDINGS_CORPORA`` overrides where the corpora live (default: ``shared/corpora`` beside the
repository).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.scheduling.optimal_time import local_wall_time

LIVE_SELLERS_CSV = "uci_facebook_live_sellers_thailand_Live_20210128.csv"
FACEBOOK_METRICS_CSV = "uci_facebook_metrics_dataset_Facebook.csv"
_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m-%d-%Y %H:%M")
# Sunday of a week with no daylight-saving change in either hemisphere's usual zones.
REFERENCE_SUNDAY = datetime(2014, 1, 5)
_NOT_CONTENT = ("status_id", "status_published")


def corpora_dir() -> Path:
    configured = os.environ.get("TIDINGS_CORPORA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "shared" / "corpora"


def engagement_dir() -> Path:
    folder = corpora_dir() / "social-engagement"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"engagement corpus not found at {folder}; set TIDINGS_CORPORA to the corpora folder"
        )
    return folder


def parse_published(text: str) -> datetime:
    """A naive local datetime from either of the two month-first formats in the live-sellers file."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised date {text!r}")


def _number(cell: str | None) -> float | None:
    if cell is None or not cell.strip():
        return None
    return float(cell)


@dataclass(frozen=True)
class LiveSellerPost:
    status_id: str
    status_type: str
    published: datetime  # naive, as written in the file
    reactions: int
    comments: int
    shares: int

    @property
    def engagement(self) -> int:
        return self.reactions + self.comments + self.shares


def load_live_seller_posts() -> list[LiveSellerPost]:
    """The live-sellers rows, exact duplicates (all but ``status_id``) dropped, file order kept."""
    seen: set[tuple[object, ...]] = set()
    posts: list[LiveSellerPost] = []
    with (engagement_dir() / LIVE_SELLERS_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            post = LiveSellerPost(
                status_id=row["status_id"],
                status_type=row["status_type"].strip().lower(),
                published=parse_published(row["status_published"]),
                reactions=int(_number(row["num_reactions"]) or 0),
                comments=int(_number(row["num_comments"]) or 0),
                shares=int(_number(row["num_shares"]) or 0),
            )
            key = (post.published, *(row[name] for name in row if name not in _NOT_CONTENT))
            if key in seen:
                continue
            seen.add(key)
            posts.append(post)
    return posts


def live_seller_samples(timezone: str = "Asia/Bangkok") -> list[EngagementSample]:
    """Live-sellers posts as Facebook samples, their timestamps read as local time in `timezone`.
    Engagement is reactions + comments + shares; the data has no reach."""
    tz = ZoneInfo(timezone)
    return [
        EngagementSample(
            platform=Platform.FACEBOOK,
            published_at=local_wall_time(post.published, tz),
            engagement=float(post.engagement),
            content_type=post.status_type,
        )
        for post in load_live_seller_posts()
    ]


@dataclass(frozen=True)
class MetricsPost:
    content_type: str
    month: int
    weekday: int  # 0 = Monday, as datetime.weekday()
    hour: int
    paid: bool | None
    reach: float
    interactions: float
    likes: float | None
    shares: float | None


def load_metrics_posts() -> list[MetricsPost]:
    posts: list[MetricsPost] = []
    with (engagement_dir() / FACEBOOK_METRICS_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sunday_first = int(row["Post Weekday"])  # 1 = Sunday .. 7 = Saturday
            paid = _number(row["Paid"])
            posts.append(
                MetricsPost(
                    content_type=row["Type"].strip().lower(),
                    month=int(row["Post Month"]),
                    weekday=(sunday_first + 5) % 7,
                    hour=int(row["Post Hour"]),
                    paid=None if paid is None else bool(paid),
                    reach=float(row["Lifetime Post Total Reach"]),
                    interactions=float(row["Total Interactions"]),
                    likes=_number(row["like"]),
                    shares=_number(row["share"]),
                )
            )
    return posts


def metrics_samples(timezone: str = "UTC") -> list[EngagementSample]:
    """Facebook-metrics posts as Facebook samples on the reference week, at their weekday and hour
    local to `timezone`, with Total Interactions as engagement and Lifetime Post Total Reach as reach."""
    tz = ZoneInfo(timezone)
    samples = []
    for post in load_metrics_posts():
        days_from_sunday = (post.weekday + 1) % 7
        wall = REFERENCE_SUNDAY + timedelta(days=days_from_sunday, hours=post.hour)
        samples.append(
            EngagementSample(
                platform=Platform.FACEBOOK,
                published_at=local_wall_time(wall, tz),
                engagement=post.interactions,
                reach=post.reach,
                content_type=post.content_type,
            )
        )
    return samples
