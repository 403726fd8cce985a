"""The comment intake (the comment_intake function). From the table's stream:

- a verified Meta webhook entry (stored by `POST /inbound/meta`, once per entry) is mapped to the users
  who connected the Page or Instagram account it concerns, and its new comments are written for each,
  in batches, once per user and platform comment id;
- a post that was just published is watched for comments on each platform that has them, and linked
  by every platform id it is known by (the id its publish answered; a Facebook video's Page post too,
  which Meta's webhooks name), so a webhook comment is tied to its post whenever it comes; comments
  stored before the link (a webhook faster than the stream) are tied to it then;
- a new comment is analysed (in one call per batch), and the analysis stored on it; one the analysis
  decided to hide (only where the user allows hiding) is hidden on its platform, once, through the
  same path as `POST /comments/{id}/hide`.

Every 15 minutes (the comment-fetch schedule) the watched posts' comments are read from the platforms
(`tidings.engagement.fetch`), for accounts whose platform sends no webhook. Every minute (the
reply-retries schedule) the replies due are taken on (`tidings.engagement.replies.ReplyPass`).

Meta's shapes (developers.facebook.com, Graph API "Webhooks Reference: Page" field `feed`, and the
Instagram Platform "Webhook Notification Examples", field `comments`):

    {"object": "page", "entry": [{"id": <page id>, "time": <unix s>, "changes": [{"field": "feed",
      "value": {"item": "comment", "verb": "add", "comment_id", "post_id", "parent_id",
                "from": {"id", "name"}, "message", "created_time": <unix s>}}]}]}
    {"object": "instagram", "entry": [{"id": <IG account id>, "time": <unix>, "changes": [{"field":
      "comments", "value": {"id", "text", "from": {"id", "username"}, "media": {"id"}, "parent_id"}}]}]}

A Facebook comment's `parent_id` is the post itself for a top-level comment. Instagram's payload has no
creation time: the entry's time stands for it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import TidingsError
from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.core.streams import StreamConsumer, dispatch_batch
from tidings.core.triggers import PeriodicRun, StreamBatch
from tidings.engagement.comments import Analyzer, Credentials, from_platform, status_after
from tidings.engagement.fetch import CommentFetcher
from tidings.models.comments import Comment, CommentSource, PostLink, WatchedPost
from tidings.models.posts import PlatformStatus
from tidings.publishing.clients.comments import COMMENT_PLATFORMS, PlatformComment, as_object, as_text
from tidings.store import keys
from tidings.store.comments import CommentChanged, CommentFilter, CommentRepository, comment_from_item
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.posts import became_published, post_from_stream

logger = logging.getLogger(__name__)

RECENT_TEXTS = 50  # recent comments of the user the analysis compares new ones with
HIDE_DECISION = "hide"  # the analysis' decision to hide (tidings.engagement.analysis.DECISIONS)


@dataclass(frozen=True)
class MetaComment:
    platform: Platform
    account_id: str  # the Page or IG account the webhook named
    comment: PlatformComment


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    seconds = value / 1000 if value > 10**11 else value  # some deliveries carry milliseconds
    return datetime.fromtimestamp(seconds, UTC)


def _str(value: Any) -> str | None:
    return (
        str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None
    )


def _facebook(account_id: str, value: dict[str, Any]) -> PlatformComment | None:
    if value.get("item") != "comment" or value.get("verb") not in ("add", "edited"):
        return None  # reactions, posts, removals, hides
    comment_id, post_id = _str(value.get("comment_id")), _str(value.get("post_id"))
    created = _when(value.get("created_time"))
    if not (comment_id and post_id and created):
        return None
    author = as_object(value.get("from"))
    parent = _str(value.get("parent_id"))
    return PlatformComment(
        platform_comment_id=comment_id,
        platform_post_id=post_id,
        text=as_text(value.get("message")),
        created_at=created,
        author_id=_str(author.get("id")),
        author_name=author.get("name") if isinstance(author.get("name"), str) else None,
        parent_id=parent if parent != post_id else None,
    )


def _instagram(value: dict[str, Any], sent: datetime | None) -> PlatformComment | None:
    media = as_object(value.get("media"))
    comment_id, media_id = _str(value.get("id")), _str(media.get("id"))
    if not (comment_id and media_id and sent):
        return None
    author = as_object(value.get("from"))
    return PlatformComment(
        platform_comment_id=comment_id,
        platform_post_id=media_id,
        text=as_text(value.get("text")),
        created_at=sent,
        author_id=_str(author.get("id")),
        author_name=author.get("username") if isinstance(author.get("username"), str) else None,
        parent_id=_str(value.get("parent_id")),
    )


def meta_comments(object_type: str, entry: Any) -> list[MetaComment]:
    """The new comments one webhook entry carries (pure; anything else in it is left out)."""
    if not isinstance(entry, dict) or not _str(entry.get("id")):
        return []
    account_id = str(entry["id"])
    changes = entry.get("changes")
    out = []
    for change in changes if isinstance(changes, list) else []:
        value = change.get("value") if isinstance(change, dict) else None
        if not isinstance(value, dict):
            continue
        found: PlatformComment | None = None
        if object_type == "page" and change.get("field") == "feed":
            found = _facebook(account_id, value)
            platform = Platform.FACEBOOK
        elif object_type == "instagram" and change.get("field") in ("comments", "live_comments"):
            found = _instagram(value, _when(entry.get("time")))
            platform = Platform.INSTAGRAM
        if found is not None:
            out.append(MetaComment(platform, account_id, found))
    return out


class AccountOwners(Protocol):
    def owners(self, platform: str, account_id: str) -> tuple[str, ...]: ...


def _new_image(record: dict[str, Any]) -> dict[str, Any]:
    return deserialize_stream_image(record["dynamodb"]["NewImage"])


def _inserted(record: dict[str, Any], entity: str) -> bool:
    return record.get("eventName") == "INSERT" and record_of(record, entity)


class MetaEventIntake:
    """StreamConsumer of stored Meta entries: comments for each user who connected the account."""

    def __init__(self, accounts: AccountOwners, comments: CommentRepository, clock: Clock = DEFAULT_CLOCK):
        self.accounts = accounts
        self.comments = comments
        self.clock = clock

    def wants(self, record: dict[str, Any]) -> bool:
        return _inserted(record, keys.PLATFORM_EVENT_ENTITY)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        item = _new_image(record)
        try:
            entry = json.loads(str(item.get("entry", "")))
        except ValueError:
            logger.warning("a stored Meta entry is not JSON; skipped")
            return
        for found in meta_comments(str(item.get("object", "")), entry):
            for user_id in self.accounts.owners(found.platform, found.account_id):
                deferred.append((user_id, found))

    def flush(self, deferred: list[Any]) -> None:
        now = self.clock.now()
        grouped: dict[tuple[str, Platform], list[PlatformComment]] = defaultdict(list)
        for user_id, found in deferred:
            grouped[(user_id, found.platform)].append(found.comment)
        comments: list[Comment] = []
        for (user_id, platform), found_comments in grouped.items():
            ours = self.comments.post_ids(user_id, platform, [c.platform_post_id for c in found_comments])
            comments.extend(
                from_platform(user_id, platform, c, ours.get(c.platform_post_id), CommentSource.WEBHOOK, now)
                for c in found_comments
            )
        self.comments.add_new(comments)


class PagePostReader(Protocol):
    def page_post_id(self, account: Any, platform_post_id: str) -> str | None: ...


class OtherIds:
    """The ids, besides the one its publish answered, a published post is known by on its platform:
    a Facebook video's Page post (`{page}_{post}`), read with the account's token. A read that fails
    leaves it out (the video id is linked all the same)."""

    def __init__(self, facebook: PagePostReader | None, credentials: Callable[[], Credentials]) -> None:
        self.facebook = facebook
        self.credentials = credentials

    def __call__(self, user_id: str, platform: Platform, platform_post_id: str) -> list[str]:
        if platform is not Platform.FACEBOOK or self.facebook is None or "_" in platform_post_id:
            return []
        account = self.credentials().credentials(user_id, platform)
        if account is None:
            return []
        try:
            found = self.facebook.page_post_id(account, platform_post_id)
        except PlatformCallError as exc:
            logger.warning("the Page post of Facebook video %s was not read: %s", platform_post_id, exc)
            return []
        return [found] if found and found != platform_post_id else []


def tie_waiting(comments: CommentRepository, link: PostLink, now: datetime) -> int:
    """Tie the comments on `link`'s platform post that no Tidings post was known for to its post;
    answers how many were tied."""
    tied = 0
    for found in comments.unlinked(link.user_id, link.platform, link.platform_post_id):
        comment: Comment | None = found
        for _ in range(3):  # a comment analysed meanwhile is read again
            if comment is None or comment.post_id is not None:
                break
            try:
                comments.save(comment.model_copy(update={"post_id": link.post_id, "updated_at": now}))
                tied += 1
                break
            except CommentChanged:
                comment = comments.get(found.user_id, found.comment_id)
    return tied


class PublishedPostWatcher:
    """StreamConsumer of posts reaching `published`: each platform it went out on that has comments is
    watched for `watch_for`, and linked by every id it is known by there (`other_ids`), each link
    tying the comments that came before it."""

    def __init__(
        self,
        comments: CommentRepository,
        watch_for: timedelta,
        clock: Clock = DEFAULT_CLOCK,
        other_ids: Callable[[str, Platform, str], list[str]] | None = None,
    ):
        self.comments = comments
        self.watch_for = watch_for
        self.clock = clock
        self.other_ids = other_ids

    def wants(self, record: dict[str, Any]) -> bool:
        return became_published(record)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        post = post_from_stream(record)
        watches = []
        for platform, result in post.results.items():
            if (
                result.status is PlatformStatus.PUBLISHED
                and result.platform_post_id
                and platform in COMMENT_PLATFORMS
            ):
                published = result.published_at or self.clock.now()
                watches.append(
                    WatchedPost(
                        user_id=post.user_id,
                        platform=platform,
                        platform_post_id=result.platform_post_id,
                        post_id=post.post_id,
                        published_at=published,
                        watch_until=published + self.watch_for,
                    )
                )
        self.comments.watch(watches)
        links = [
            PostLink(
                user_id=w.user_id, platform=w.platform, platform_post_id=platform_id, post_id=post.post_id
            )
            for w in watches
            for platform_id in [
                w.platform_post_id,
                *(self.other_ids(w.user_id, w.platform, w.platform_post_id) if self.other_ids else []),
            ]
        ]
        self.comments.link(links)
        now = self.clock.now()
        for link in links:
            tie_waiting(self.comments, link, now)

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each post is watched as its record arrives (a repeat changes nothing)."""


class CommentAnalysisStep:
    """StreamConsumer of new comments: analysed together at the end of the batch, each result stored
    on its comment (a comment analysed already, or changed meanwhile, is left as it is). A comment the
    analysis decided to hide is hidden with `hide` (user id, comment id) right after its analysis is
    stored: once, as a stream record sent again finds it analysed; one the platform cannot or would
    not hide stays as it is, its decision shown, for the user to act on."""

    def __init__(
        self,
        comments: CommentRepository,
        analyzer: Analyzer,
        clock: Clock = DEFAULT_CLOCK,
        hide: Callable[[str, str], Any] | None = None,
    ):
        self.comments = comments
        self.analyzer = analyzer
        self.clock = clock
        self.hide = hide

    def wants(self, record: dict[str, Any]) -> bool:
        return _inserted(record, keys.COMMENT_ENTITY)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        deferred.append(comment_from_item(_new_image(record)))

    def flush(self, deferred: list[Any]) -> None:
        current = [c for c in (self.comments.get(d.user_id, d.comment_id) for d in deferred) if c is not None]
        by_user: dict[str, list[Comment]] = defaultdict(list)
        for comment in current:
            if comment.analysis is None:
                by_user[comment.user_id].append(comment)
        for user_id, todo in by_user.items():
            self._analyse(user_id, todo)

    def _analyse(self, user_id: str, todo: list[Comment]) -> None:
        todo = self._tied(user_id, todo)
        # the user's recent comments, to tell a near-duplicate across posts (never those analysed now)
        ids = {c.comment_id for c in todo}
        recent = self.comments.page(user_id, CommentFilter(), RECENT_TEXTS, None).comments
        texts = [c.text for c in recent if c.comment_id not in ids]
        for comment, analysis in zip(todo, self.analyzer.analyze(todo, texts), strict=True):
            update = {
                "analysis": analysis,
                "status": status_after(comment, analysis),
                "updated_at": self.clock.now(),
            }
            try:
                self.comments.save(comment.model_copy(update=update))
            except CommentChanged:
                logger.info("comment %s changed while analysed; left as it is", comment.comment_id)
                continue
            if analysis.decision == HIDE_DECISION:
                self._hide(comment)

    def _tied(self, user_id: str, todo: list[Comment]) -> list[Comment]:
        """The comments with their Tidings post where one is linked now: a link written between the
        comment's intake and here (whose own pass may not have seen the comment yet) still ties it."""
        by_platform: dict[Platform, set[str]] = defaultdict(set)
        for c in todo:
            if c.post_id is None:
                by_platform[c.platform].add(c.platform_post_id)
        linked = {
            (platform, platform_id): post_id
            for platform, platform_ids in by_platform.items()
            for platform_id, post_id in self.comments.post_ids(
                user_id, platform, sorted(platform_ids)
            ).items()
        }
        return [
            c.model_copy(update={"post_id": linked[(c.platform, c.platform_post_id)]})
            if c.post_id is None and (c.platform, c.platform_post_id) in linked
            else c
            for c in todo
        ]

    def _hide(self, comment: Comment) -> None:
        if self.hide is None:
            return
        try:
            self.hide(comment.user_id, comment.comment_id)
        except TidingsError as exc:  # not hideable there, no account, refused, or changed meanwhile
            logger.warning("comment %s was not hidden: %s", comment.comment_id, exc)


class CommentIntake:
    """The comment_intake function's use-case."""

    def __init__(
        self,
        fetcher: CommentFetcher,
        consumers: Sequence[StreamConsumer],
        periodic: Sequence[Callable[[], dict[str, Any]]] = (),
        observers: Sequence[StreamConsumer] = (),
        schedules: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.consumers = list(consumers)
        self.periodic = list(periodic)  # more work of the periodic run (the crisis pass), its report merged
        # The periodic runs of other schedules, by name (the reply pass): each runs only its own work.
        self.schedules = dict(schedules or {})
        # Consumers that see the batch's records after the others, whoever took them (crisis evaluation
        # of the users whose comments were analysed); a failure retries from its first record.
        self.observers = list(observers)

    def handle(self, trigger: StreamBatch | PeriodicRun) -> dict[str, Any]:
        if isinstance(trigger, StreamBatch):
            result = dispatch_batch(trigger.event(), self.consumers)
            if result["batchItemFailures"] or not self.observers:
                return result
            return dispatch_batch(trigger.event(), self.observers)
        own = self.schedules.get(trigger.schedule)
        if own is not None:
            return own()
        report = self.fetcher.run_periodic().as_dict()
        for task in self.periodic:
            report.update(task())
        return report
