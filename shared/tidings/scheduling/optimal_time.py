"""The optimal posting time: when should this user next post on this platform?

What it learns from
    The user's own past posts on the platform (`EngagementSample`): when each went out and how much
    engagement it drew. Each post is placed in a *slot*, the (weekday, hour) it was published at in the
    user's time zone, so "Tuesday 10:00-11:00 in Europe/Lisbon" is one of 168 slots in a week.

How a slot is scored
    By the slot model (`tidings.scheduling.slot_model`): the user's own posts, on a robust log
    scale, in three empirical-Bayes layers (hour of day, weekday, the two together) shrunk toward a
    modest platform prior, ranked by expected score less one standard deviation.

The recommendation
    The next start of the best-scoring slot that is at least ``min_lead`` after ``now`` (ties: the
    earliest), as an aware datetime in the requested IANA time zone. A local time that does not exist
    (clocks going forward) is moved forward by the length of the gap (02:00 becomes 03:00 in New York on
    the spring-forward Sunday); an ambiguous one (clocks going back) is its first occurrence.

Confidence and data quality
    ``confidence = 0.3 + 0.7 * min(1, posts / 50)``: 0.3 for a new user, 1.0 from 50 posts. Data quality
    is "none" (0 posts), "sparse" (1-19), "moderate" (20-49) or "rich" (50 or more); with sparse data the
    reasoning says the answer leans on platform defaults.

Content type
    With a content type, the posts of that type are used when there are at least
    ``MIN_CONTENT_TYPE_POSTS`` of them; otherwise all posts of the platform are, and the reasoning says so.

Standard library only (it runs in the API's Lambda function). ``zoneinfo`` reads the system time zone
database, falling back to the ``tzdata`` package when the system has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.scheduling.slot_model import (
    FULL_CONFIDENCE_POSTS,
    HOURS_PER_DAY,
    PRIORS,
    SLOTS,
    Metric,
    Selection,
    SlotModel,
    fit,
    platform_prior,
    select,
)

DataQuality = Literal["none", "sparse", "moderate", "rich"]

MIN_CONFIDENCE = 0.3
MODERATE_FROM_POSTS = 20
TOP_SLOTS = 5
_TIE = 1e-9

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class SlotScore:
    """One (weekday, hour) slot in the requested time zone. `weekday` is 0 for Monday.

    `estimate` is the slot's expected score on the log scale of the module docstring, `uncertainty`
    its standard deviation, and `score` (estimate less uncertainty) what slots are ranked by; they
    compare slots within one recommendation, not across users. `posts` and `observed_mean` are the raw
    facts: how many posts fall in the slot and their mean engagement (or engagement rate)."""

    weekday: int
    hour: int
    score: float
    estimate: float
    uncertainty: float
    posts: int
    observed_mean: float | None


@dataclass(frozen=True)
class Recommendation:
    """What GET /optimal-time answers. `recommended_time` and `alternatives` are aware datetimes in the
    requested zone (see `recommend`); `based_on_posts` counts the posts used (of the platform, and of
    the content type when there were enough); `slot_scores` are the best slots, best first; `metric`
    says whether engagement rates or raw engagement were compared; `content_type_used` is None when
    posts of every type were used."""

    recommended_time: datetime
    confidence: float
    reasoning: str
    alternatives: list[datetime]
    based_on_posts: int
    data_quality: DataQuality
    slot_scores: list[SlotScore] = field(default_factory=list)
    metric: Metric = "engagement"
    content_type_used: str | None = None


def confidence_for(posts: int) -> float:
    """0.3 with no history, growing linearly to 1.0 at 50 posts."""
    return MIN_CONFIDENCE + (1.0 - MIN_CONFIDENCE) * min(1.0, max(posts, 0) / FULL_CONFIDENCE_POSTS)


def data_quality_for(posts: int) -> DataQuality:
    if posts <= 0:
        return "none"
    if posts < MODERATE_FROM_POSTS:
        return "sparse"
    if posts < FULL_CONFIDENCE_POSTS:
        return "moderate"
    return "rich"


def resolve_timezone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; anything else is a ValidationFailed with code "unknown_timezone".

    Raises RuntimeError when the runtime has no time zone database at all (neither the system's nor
    the ``tzdata`` package), so a deployment problem is not reported as the user's mistake."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        if not _has_tz_database():
            raise RuntimeError(
                "No time zone database found: install the tzdata package alongside tidings"
            ) from None
        raise ValidationFailed(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Paris'.",
            {"timezone": name},
            code="unknown_timezone",
        ) from None


def _has_tz_database() -> bool:
    try:
        ZoneInfo.no_cache("Etc/UTC")
    except ZoneInfoNotFoundError:
        return False
    return True


def local_wall_time(wall: datetime, tz: tzinfo) -> datetime:
    """The aware instant for the naive local time `wall`. A local time that does not exist (clocks
    going forward) moves forward by the gap; an ambiguous one (clocks going back) is the first."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


@dataclass(frozen=True)
class _Candidate:
    slot: int
    wall: datetime  # the intended local wall time, naive
    at: datetime  # the aware instant


def _candidates(tz: tzinfo, earliest: datetime, now: datetime) -> list[_Candidate]:
    """Every slot start from `earliest` on, over eight local days (so each slot occurs at least once)."""
    first_day = earliest.astimezone(tz).date()
    found: list[_Candidate] = []
    for offset in range(9):
        day = first_day + timedelta(days=offset)
        for hour in range(HOURS_PER_DAY):
            wall = datetime.combine(day, time(hour))
            at = local_wall_time(wall, tz)
            if at >= earliest and at > now:
                found.append(_Candidate(day.weekday() * HOURS_PER_DAY + hour, wall, at))
    return found


def _alternatives(best: _Candidate, tz: tzinfo, earliest: datetime, now: datetime) -> list[datetime]:
    taken = {best.at}
    out: list[datetime] = []
    for step in (timedelta(hours=-1), timedelta(hours=1), timedelta(days=-1), timedelta(days=1)):
        wall = best.wall + step
        at = local_wall_time(wall, tz)
        while at < earliest or at <= now or at in taken:
            wall += timedelta(days=7)
            at = local_wall_time(wall, tz)
        taken.add(at)
        out.append(at)
    return out


def _slot_name(slot: int) -> str:
    day, hour = divmod(slot, HOURS_PER_DAY)
    return f"{WEEKDAYS[day]}s {hour:02d}:00-{(hour + 1) % HOURS_PER_DAY:02d}:00"


def _format_value(value: float, metric: Metric) -> str:
    if metric == "engagement_rate":
        return f"an engagement rate of {value:.1%}"
    return f"{value:,.0f} interactions per post"


def _reasoning(
    *,
    platform: Platform,
    timezone: str,
    selection: Selection,
    model: SlotModel,
    best: _Candidate,
    quality: DataQuality,
) -> str:
    posts = len(selection.samples)
    slot_text = f"{_slot_name(best.slot)} ({timezone})"
    spec = PRIORS[platform]
    parts: list[str] = []
    if quality == "none":
        parts.append(
            f"No past {platform.value} posts to learn from yet, so this uses platform defaults "
            f"({spec.summary}): general guidance, not your audience. {slot_text} is the next strong slot."
        )
    elif quality == "sparse":
        noun = "post" if posts == 1 else "posts"
        lead = f"Only {posts} past {platform.value} {noun} so far: sparse data, too few to tell reliably"
        prior = platform_prior(platform)
        if prior[best.slot] == max(prior):
            parts.append(
                f"{lead} which hours work for your audience, so this leans on platform defaults "
                f"({spec.summary}) rather than on any single post. {slot_text} is the next strong slot."
            )
        else:
            parts.append(
                f"{lead}, so this starts from platform defaults ({spec.summary}); an early pattern in "
                f"your posts moves it to {slot_text}, but treat that as provisional."
            )
    else:
        parts.append(_evidence(platform, posts, model, best.slot, slot_text))
        if quality == "moderate":
            parts.append(f"With {posts} posts the pattern is still settling; it firms up from 50.")
    if selection.note:
        parts.append(selection.note)
    if best.at.replace(tzinfo=None) != best.wall:
        parts.append(
            f"Clocks go forward on {best.wall:%Y-%m-%d}: {best.wall:%H:%M} does not exist that day, "
            f"so the time moves to {best.at:%H:%M}."
        )
    parts.append("Confidence grows with every analysed post and is full from 50.")
    return " ".join(parts)


def _evidence(platform: Platform, posts: int, model: SlotModel, slot: int, slot_text: str) -> str:
    overall = _format_value(sum(model.raw_sums) / posts, model.metric)
    day, hour = divmod(slot, HOURS_PER_DAY)
    same_hour = [d * HOURS_PER_DAY + hour for d in range(7)]
    hour_posts = sum(model.counts[s] for s in same_hour)
    hour_mean = sum(model.raw_sums[s] for s in same_hour) / hour_posts if hour_posts else 0.0
    text = f"Based on {posts:,} of your {platform.value} posts, {slot_text} scores best."
    here = model.counts[slot]
    if here:
        noun = "post" if here == 1 else "posts"
        mean = _format_value(model.raw_sums[slot] / here, model.metric)
        text += f" Your {here} {noun} there averaged {mean}, against {overall} overall"
        if hour_posts > here:
            text += f"; your {hour_posts:,} posts at {hour:02d}:00 on any day averaged "
            text += _format_value(hour_mean, model.metric)
        return text + "."
    text += f" You have not posted at {hour:02d}:00 on a {WEEKDAYS[day]} yet"
    if hour_posts:
        text += (
            f"; it rests on your {hour_posts:,} posts at that hour on other days, which averaged "
            f"{_format_value(hour_mean, model.metric)} against {overall} overall, and on general guidance"
        )
    else:
        text += ": it rests on general guidance for the platform and on how your other hours compare"
    return text + "."


def recommend(
    samples: Sequence[EngagementSample],
    *,
    platform: Platform,
    timezone: str,
    now: datetime,
    content_type: str | None = None,
    min_lead: timedelta = timedelta(minutes=15),
) -> Recommendation:
    """The best time to post next on `platform`, learnt from `samples` (the user's past posts; posts on
    other platforms are ignored).

    `recommended_time` is the start of the best (weekday, hour) slot in `timezone`, the first one at
    least `min_lead` after `now` (ties: the earliest). `alternatives` are exactly four, in this order:
    one hour earlier and one hour later the same day, the same time the day before and the day after
    (wall-clock arithmetic in `timezone`). An alternative that falls before ``now + min_lead``, or on
    the recommended time itself (possible around a daylight-saving gap), is moved to the next occurrence
    of its slot, i.e. a week later; a local time that does not exist is moved forward like the
    recommendation. Raises ValidationFailed("unknown_timezone") for a zone that is not IANA.
    """
    tz = resolve_timezone(timezone)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if min_lead < timedelta(0):
        raise ValueError("min_lead must not be negative")
    selection = select(samples, platform, content_type)
    model = fit(selection.samples, platform, tz)
    earliest = now + min_lead
    candidates = _candidates(tz, earliest, now)
    best = candidates[0]
    for candidate in candidates[1:]:
        if model.rank_value(candidate.slot) > model.rank_value(best.slot) + _TIE:
            best = candidate
    posts = len(selection.samples)
    quality = data_quality_for(posts)
    ranked = sorted(range(SLOTS), key=lambda slot: (-model.rank_value(slot), slot))[:TOP_SLOTS]
    slot_scores = [
        SlotScore(
            weekday=slot // HOURS_PER_DAY,
            hour=slot % HOURS_PER_DAY,
            score=model.rank_value(slot),
            estimate=model.estimates[slot],
            uncertainty=model.uncertainty[slot],
            posts=model.counts[slot],
            observed_mean=model.raw_sums[slot] / model.counts[slot] if model.counts[slot] else None,
        )
        for slot in ranked
    ]
    return Recommendation(
        recommended_time=best.at,
        confidence=confidence_for(posts),
        reasoning=_reasoning(
            platform=platform,
            timezone=timezone,
            selection=selection,
            model=model,
            best=best,
            quality=quality,
        ),
        alternatives=_alternatives(best, tz, earliest, now),
        based_on_posts=posts,
        data_quality=quality,
        slot_scores=slot_scores,
        metric=model.metric,
        content_type_used=selection.content_type_used,
    )
