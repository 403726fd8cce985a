"""The scheduler's use-cases: queue a post, change or cancel it, list the queue, publish now.

The API writes the post and nothing else; the table's stream keeps the schedules in line
(tidings.scheduling.schedule_keeper). Publish-now also starts the execution at once (an idempotent
start of the same execution the stream would start) to save the stream's delay while the caller waits.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tidings.aws.publishing import PublishStarter
from tidings.core.clock import Clock, ceil_ms
from tidings.core.config import Settings
from tidings.core.errors import Conflict, NotFound, TidingsError, ValidationFailed, choice
from tidings.core.platforms import Platform
from tidings.models.posts import (
    FINAL_STATUSES,
    PlatformStatus,
    PostPersonalization,
    PostStatus,
    ScheduledPost,
)
from tidings.publishing.validation import (
    check_content,
    check_future,
    check_timezone,
    check_urls,
    normalize_hashtags,
    parse_platforms,
)
from tidings.scheduling import optimal_time
from tidings.scheduling.personalization import ClientContent, PostPersonalizer
from tidings.scheduling.recovery import attempt_in_flight
from tidings.store.analytics import AnalyticsRepository
from tidings.store.posts import (
    MAX_CREATE_BATCH,
    HeldClaim,
    PostPage,
    PostRepository,
    QueueChanged,
    QueueEntry,
    QueueIndex,
    StaleWrite,
)
from tidings.store.quotas import SCHEDULED_POSTS, quota_exceeded

_QUEUE_RETRIES = 12


@dataclass(frozen=True)
class NewPost:
    content: str
    platforms: list[str] | None = None
    scheduled_time: datetime | None = None
    hashtags: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    link: str | None = None
    content_type: str | None = None
    timezone: str | None = None
    thread: tuple[str, ...] = ()
    client: ClientContent | None = None  # render the texts for this CRM client before storing


@dataclass(frozen=True)
class PostChanges:
    scheduled_time: datetime | None = None
    platforms: list[str] | None = None
    content: str | None = None
    hashtags: tuple[str, ...] | None = None
    thread: tuple[str, ...] | None = None


@dataclass(frozen=True)
class QueueStatistics:
    total_scheduled: int
    next_post_time: datetime | None
    by_platform: dict[str, int]
    by_status: dict[str, int]


@dataclass(frozen=True)
class PublishNowOutcome:
    post: ScheduledPost
    complete: bool


def new_post_id() -> str:
    return uuid.uuid4().hex


class SchedulingService:
    def __init__(
        self,
        settings: Settings,
        posts: PostRepository,
        analytics: AnalyticsRepository,
        starter: PublishStarter,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        personalizer: PostPersonalizer | None = None,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.analytics = analytics
        self.starter = starter
        self.clock = clock
        self.sleep = sleep
        self.personalizer = personalizer

    # -- queue rules -------------------------------------------------------------------------------

    def _check_queue(self, queue: QueueIndex, post: ScheduledPost) -> None:
        others = {pid: e for pid, e in queue.entries.items() if pid != post.post_id}
        if len(others) >= self.settings.quota_scheduled_posts:
            raise quota_exceeded(SCHEDULED_POSTS, self.settings.quota_scheduled_posts)
        limit = self.settings.max_queue_per_platform
        gap = timedelta(minutes=self.settings.min_gap_minutes)
        for platform in post.platforms:
            queued = sum(1 for e in others.values() if platform in e.platforms)
            if queued >= limit:
                raise Conflict(
                    f"the {platform} queue is full ({limit} posts)",
                    {"platform": str(platform), "limit": limit, "queued": queued},
                    code="queue_full",
                )
        if gap <= timedelta(0):
            return
        for pid, entry in sorted(others.items(), key=lambda kv: kv[1].time):
            shared = [p for p in post.platforms if p in entry.platforms]
            if shared and abs(entry.time - post.scheduled_time) < gap:
                raise Conflict(
                    f"another post goes out on {shared[0]} within {self.settings.min_gap_minutes} minutes",
                    {
                        "platform": str(shared[0]),
                        "conflictingPostId": pid,
                        "conflictingTime": entry.time.isoformat(),
                        "minimumGapMinutes": self.settings.min_gap_minutes,
                    },
                    code="min_delay_violated",
                )

    def _fits(self, queue: QueueIndex, post: ScheduledPost) -> bool:
        try:
            self._check_queue(queue, post)
        except Conflict:
            return False
        return True

    def _back_off(self, attempt: int) -> None:
        """Another write to the same queue won the race: wait (exponential, full jitter, capped at a
        second) and check again. A rival batch's transaction can take longer than a fixed short wait, so
        the wait grows until the rival is done."""
        self.sleep(random.uniform(0.005, min(1.0, 0.02 * 2**attempt)))

    # -- create ------------------------------------------------------------------------------------

    def _personalize(self, user_id: str, req: NewPost) -> tuple[NewPost, PostPersonalization | None]:
        """The request with its content and thread rendered for its client (unchanged without one)."""
        if req.client is None:
            return req, None
        if self.personalizer is None:
            raise ValidationFailed(
                "posts for a CRM client are not available here",
                {"field": "clientId"},
                code="personalization_unavailable",
            )
        done = self.personalizer.personalize_texts(
            user_id, req.client, [req.content, *req.thread], req.content_type
        )
        content, *thread = done.texts
        return replace(req, content=content, thread=tuple(thread)), done.personalization

    def _build(
        self, user_id: str, req: NewPost, *, scheduled_time: datetime, publish_now: bool
    ) -> ScheduledPost:
        req, personalization = self._personalize(user_id, req)
        platforms = (
            parse_platforms(req.platforms)
            if req.platforms is not None
            else list(self.settings.default_platforms)
        )
        hashtags = normalize_hashtags(list(req.hashtags))
        check_urls(list(req.media_urls), req.link)
        check_content(req.content, hashtags, req.link, list(req.media_urls), platforms, list(req.thread))
        now = self.clock.now()
        return ScheduledPost(
            user_id=user_id,
            post_id=new_post_id(),
            content=req.content,
            platforms=platforms,
            scheduled_time=scheduled_time,
            timezone=req.timezone,
            hashtags=hashtags,
            thread=[part.strip() for part in req.thread],
            media_urls=list(req.media_urls),
            link=req.link,
            content_type=req.content_type,
            created_at=now,
            updated_at=now,
            publish_now=publish_now,
            personalization=personalization,
        )

    def _prepare(self, user_id: str, req: NewPost) -> tuple[ScheduledPost, list[datetime] | None]:
        """The validated post, and the candidate times to choose from when the time is auto-optimised
        (None when the caller fixed the time)."""
        check_timezone(req.timezone)
        now = self.clock.now()
        if req.scheduled_time is not None:
            check_future(req.scheduled_time, now)
            return self._build(user_id, req, scheduled_time=req.scheduled_time, publish_now=False), None
        if not self.settings.auto_optimize:
            raise ValidationFailed(
                "scheduledTime is required while auto-optimise is off",
                {"field": "scheduledTime"},
                code="scheduled_time_required",
            )
        post = self._build(user_id, req, scheduled_time=now + timedelta(days=1), publish_now=False)
        rec = self.recommend(user_id, post.platforms[0], req.content_type, req.timezone or "UTC")
        return post, [rec.recommended_time, *sorted(t for t in rec.alternatives if t > now)]

    def _place(
        self, queue: QueueIndex, post: ScheduledPost, candidates: list[datetime] | None
    ) -> ScheduledPost:
        """The post at its time in `queue`: the first candidate that fits when optimised. Raises
        Conflict when it breaks a queue rule."""
        if candidates is not None:
            fitting = [
                t for t in candidates if self._fits(queue, post.model_copy(update={"scheduled_time": t}))
            ]
            chosen = fitting[0] if fitting else candidates[0]
            post = post.model_copy(update={"scheduled_time": ceil_ms(chosen), "optimized_time": True})
        self._check_queue(queue, post)
        return post

    def schedule(self, user_id: str, req: NewPost) -> ScheduledPost:
        post, candidates = self._prepare(user_id, req)
        for attempt in range(_QUEUE_RETRIES):
            queue = self.posts.queue(post.user_id)
            placed = self._place(queue, post, candidates)
            try:
                self.posts.create(placed, queue.rev)
            except QueueChanged:
                self._back_off(attempt)
                continue
            return placed
        raise _queue_busy()

    def schedule_batch(self, user_id: str, reqs: list[NewPost]) -> list[ScheduledPost | Exception]:
        """Each item independently (one bad item does not stop the others), checked against the queue
        and the items before it, and written in transactions of up to MAX_CREATE_BATCH posts with one
        queue update each, so a large batch does not race with itself."""
        out: list[ScheduledPost | Exception] = [_queue_busy()] * len(reqs)
        prepared: list[tuple[int, ScheduledPost, list[datetime] | None]] = []
        for index, req in enumerate(reqs):
            try:
                prepared.append((index, *self._prepare(user_id, req)))
            except TidingsError as exc:  # a rule, or the item's CRM client (not found, CRM down...)
                out[index] = exc
        for start in range(0, len(prepared), MAX_CREATE_BATCH):
            self._insert_chunk(user_id, prepared[start : start + MAX_CREATE_BATCH], out)
        return out

    def _insert_chunk(
        self,
        user_id: str,
        chunk: list[tuple[int, ScheduledPost, list[datetime] | None]],
        out: list[ScheduledPost | Exception],
    ) -> None:
        for attempt in range(_QUEUE_RETRIES):
            queue = self.posts.queue(user_id)
            working = QueueIndex(rev=queue.rev, entries=dict(queue.entries))
            accepted: list[tuple[int, ScheduledPost]] = []
            for index, post, candidates in chunk:
                try:
                    placed = self._place(working, post, candidates)
                except Conflict as exc:
                    out[index] = exc
                    continue
                working.entries[placed.post_id] = QueueEntry(placed.scheduled_time, tuple(placed.platforms))
                accepted.append((index, placed))
            try:
                self.posts.create_many([post for _, post in accepted], queue.rev)
            except QueueChanged:
                self._back_off(attempt)
                continue
            for index, post in accepted:
                out[index] = post
            return
        for index, _, _ in chunk:
            out[index] = _queue_busy()

    # -- read ---------------------------------------------------------------------------------------

    def get(self, user_id: str, post_id: str) -> ScheduledPost:
        post = self.posts.get(user_id, post_id)
        if post is None:
            raise NotFound("no such post", {"postId": post_id}, code="post_not_found")
        return post

    def list_posts(
        self,
        user_id: str,
        status: str | None,
        platform: str | None,
        limit: int,
        next_token: str | None,
    ) -> PostPage:
        status_value = (
            choice(PostStatus, status, field="status", code="unknown_status") if status is not None else None
        )
        platform_value = parse_platforms([platform])[0] if platform is not None else None
        try:
            return self.posts.page(
                user_id, status=status_value, platform=platform_value, limit=limit, next_token=next_token
            )
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"field": "nextToken"}, code="invalid_next_token") from exc

    def stats(self, user_id: str) -> QueueStatistics:
        queue = self.posts.queue(user_id)
        by_platform: Counter[str] = Counter()
        for entry in queue.entries.values():
            by_platform.update(str(p) for p in entry.platforms)
        by_status: Counter[str] = Counter(str(p.status) for p in self.posts.iter_all(user_id))
        scheduled = by_status.get(str(PostStatus.SCHEDULED), 0)
        upcoming = [e.time for e in queue.entries.values()]
        return QueueStatistics(
            total_scheduled=scheduled,
            next_post_time=min(upcoming) if upcoming else None,
            by_platform={str(p): by_platform.get(str(p), 0) for p in Platform},
            by_status={str(s): by_status.get(str(s), 0) for s in PostStatus},
        )

    def recommend(
        self, user_id: str, platform: Platform, content_type: str | None, timezone: str
    ) -> optimal_time.Recommendation:
        samples = self.analytics.samples(user_id, platform)
        return optimal_time.recommend(
            samples, platform=platform, timezone=timezone, now=self.clock.now(), content_type=content_type
        )

    # -- change --------------------------------------------------------------------------------------

    def update(self, user_id: str, post_id: str, changes: PostChanges) -> ScheduledPost:
        if all(
            v is None
            for v in (
                changes.scheduled_time,
                changes.platforms,
                changes.content,
                changes.hashtags,
                changes.thread,
            )
        ):
            raise ValidationFailed(
                "nothing to change: send scheduledTime, platforms, content, hashtags or thread",
                {},
                code="empty_update",
            )
        for attempt in range(_QUEUE_RETRIES):
            post = self.get(user_id, post_id)
            if post.status != PostStatus.SCHEDULED:
                raise self._not_editable(post)
            now = self.clock.now()
            if changes.scheduled_time is not None:
                check_future(changes.scheduled_time, now)
            platforms = (
                parse_platforms(changes.platforms) if changes.platforms is not None else post.platforms
            )
            hashtags = (
                normalize_hashtags(list(changes.hashtags)) if changes.hashtags is not None else post.hashtags
            )
            content = changes.content if changes.content is not None else post.content
            thread = [t.strip() for t in changes.thread] if changes.thread is not None else post.thread
            check_content(content, hashtags, post.link, post.media_urls, platforms, thread)
            updated = post.model_copy(
                update={
                    "scheduled_time": ceil_ms(changes.scheduled_time or post.scheduled_time),
                    "platforms": platforms,
                    "hashtags": hashtags,
                    "content": content,
                    "thread": thread,
                    "version": post.version + 1,
                    "updated_at": now,
                    "optimized_time": post.optimized_time and changes.scheduled_time is None,
                }
            )
            queue = self.posts.queue(user_id)
            self._check_queue(queue, updated)
            try:
                self.posts.replace_scheduled(updated, post.version, queue.rev)
            except (QueueChanged, StaleWrite):
                self._back_off(attempt)
                continue
            return updated
        raise Conflict("the post is changing too fast; try again", {"postId": post_id}, code="queue_busy")

    def _attempt_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.publish_attempt_timeout_seconds)

    def _in_flight(self, post: ScheduledPost) -> Conflict | None:
        """The refusal while an attempt of the post is running: what it sends cannot be taken back."""
        if not attempt_in_flight(post, self.clock.now(), self._attempt_timeout()):
            return None
        return Conflict(
            "an attempt is publishing the post right now; try again in a minute",
            {"postId": post.post_id, "status": str(post.status)},
            code="publish_in_progress",
        )

    def _not_editable(self, post: ScheduledPost) -> Conflict:
        if (refusal := self._in_flight(post)) is not None:
            return refusal
        details: dict[str, object] = {"postId": post.post_id, "status": str(post.status)}
        if post.status == PostStatus.PUBLISHING:
            # an edit could change what a read-back looks for and post a second copy: cancel instead
            details["cancellable"] = True
            return Conflict(
                "the post is being published (waiting for its next attempt) and can no longer be "
                "changed; cancel it and schedule a new one",
                details,
                code="post_not_editable",
            )
        return Conflict(
            f"the post is {post.status}; only scheduled posts can be changed",
            details,
            code="post_not_editable",
        )

    def _not_cancellable(self, post: ScheduledPost) -> Conflict:
        return self._in_flight(post) or Conflict(
            f"the post is {post.status}; it can no longer be cancelled",
            {"postId": post.post_id, "status": str(post.status)},
            code="post_not_cancellable",
        )

    def cancel(self, user_id: str, post_id: str) -> ScheduledPost:
        """Cancel a scheduled post, or one being published while no attempt is running (between
        attempts, or left by an execution that ended): its next attempt, if any, ends quietly. What
        already went out stays out; the results say where."""
        post = self.get(user_id, post_id)
        now, timeout = self.clock.now(), self._attempt_timeout()
        held: HeldClaim | None = None
        if post.status == PostStatus.PUBLISHING and not attempt_in_flight(post, now, timeout):
            # the cancel holds only while no attempt of this claim has started since
            held = HeldClaim(post.version, post.claimed_by or "", started_before=now - timeout)
        elif post.status != PostStatus.SCHEDULED:
            raise self._not_cancellable(post)
        try:
            return self.posts.cancel(user_id, post_id, now, held)
        except StaleWrite as exc:
            raise self._not_cancellable(self.get(user_id, post_id)) from exc

    # -- publish now -------------------------------------------------------------------------------

    def publish_now(self, user_id: str, req: NewPost) -> PublishNowOutcome:
        check_timezone(req.timezone)
        now = self.clock.now()
        post = self._build(user_id, req, scheduled_time=now, publish_now=True)
        self.posts.put_new(post)
        self.starter.start(user_id, post.post_id, post.version, post.scheduled_time)
        deadline = time.monotonic() + self.settings.publish_now_wait_seconds
        while True:
            current = self.get(user_id, post.post_id)
            if _first_attempt_done(current):
                return PublishNowOutcome(post=current, complete=True)
            if time.monotonic() >= deadline:
                return PublishNowOutcome(post=current, complete=False)
            self.sleep(0.1)


def _queue_busy() -> Conflict:
    return Conflict("the queue is changing too fast; try again", {}, code="queue_busy")


def _first_attempt_done(post: ScheduledPost) -> bool:
    if post.status in FINAL_STATUSES:
        return True
    return post.status == PostStatus.PUBLISHING and all(
        post.result_for(p).status != PlatformStatus.PENDING for p in post.platforms
    )
