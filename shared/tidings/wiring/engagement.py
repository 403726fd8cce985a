"""The composition root's engagement part: the comments and their replies (the comment_intake
function, and the comment routes of the HTTP API)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.core.platforms import Platform
    from tidings.engagement.comments import Analyzer, CommentService
    from tidings.engagement.fetch import CommentFetcher
    from tidings.engagement.intake import CommentIntake, OtherIds
    from tidings.engagement.replies import ReplyService
    from tidings.publishing.clients.comments import CommentReader, CommentReplier
    from tidings.store.comment_settings import CommentSettingsRepository
    from tidings.store.comments import CommentRepository


@lru_cache(maxsize=1)
def comment_repository() -> CommentRepository:
    from tidings.store.comments import DynamoCommentRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoCommentRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def comment_readers() -> dict[Platform, CommentReader]:
    from tidings.publishing.clients.comments import build_comment_readers

    return build_comment_readers(get_settings(), root.publishing_http(), DEFAULT_CLOCK)


@lru_cache(maxsize=1)
def comment_settings_repository() -> CommentSettingsRepository:
    from tidings.store.comment_settings import DynamoCommentSettingsRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoCommentSettingsRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def comment_repliers() -> dict[Platform, CommentReplier]:
    from tidings.publishing.clients.comments import build_comment_repliers

    return build_comment_repliers(get_settings(), root.publishing_http(), DEFAULT_CLOCK)


@lru_cache(maxsize=1)
def reply_service() -> ReplyService:
    """Replies: drafted with the content package (the Bedrock model when TIDINGS_BEDROCK_MODEL_ID is
    set), posted through the platforms' reply endpoints."""
    from tidings.engagement.replies import ContentReplyDrafter, ReplyBackoff, ReplyService

    s = get_settings()
    model = (
        lru_cache(maxsize=1)(lambda: root._client("bedrock-runtime")) if s.bedrock_model_id.strip() else None
    )
    return ReplyService(
        comment_repository(),
        comment_settings_repository(),
        comment_repliers(),
        root.publishing_credentials,
        ContentReplyDrafter(model, s.bedrock_model_id),
        stale_after=timedelta(seconds=3 * s.http_timeout_seconds),  # as the publish ledger's
        lease=timedelta(seconds=s.reply_lease_seconds),
        backoff=ReplyBackoff(base_seconds=float(s.reply_retry_base_seconds)),
        clock=DEFAULT_CLOCK,
    )


@lru_cache(maxsize=1)
def comment_fetcher() -> CommentFetcher:
    from tidings.engagement.fetch import CommentFetcher

    return CommentFetcher(
        comment_repository(),
        comment_readers(),
        root.publishing_credentials,
        max_posts=get_settings().comment_fetch_max_posts,
        clock=DEFAULT_CLOCK,
    )


@lru_cache(maxsize=1)
def comment_service() -> CommentService:
    from tidings.engagement.comments import CommentService

    return CommentService(
        comment_repository(),
        comment_fetcher,
        comment_readers(),
        root.publishing_credentials,
        sync_every=timedelta(seconds=get_settings().comment_sync_cooldown_seconds),
        clock=DEFAULT_CLOCK,
        replies=reply_service,
    )


def comment_analyzer() -> Analyzer | None:
    """The analyzer of new comments (tidings.engagement.analysis), when this build has one: Amazon
    Comprehend's with TIDINGS_COMMENT_ANALYZER=comprehend, else the local one."""
    import importlib

    from tidings.engagement.comments import AnalysisAdapter

    try:
        analysis = importlib.import_module("tidings.engagement.analysis")
    except ImportError:
        return None
    settings = comment_settings_repository()
    return AnalysisAdapter(
        analysis.make_analyzer(get_settings()), DEFAULT_CLOCK, lambda user: settings.get(user).allow_hide
    )


def post_ids_on_platforms() -> OtherIds:
    """The other ids a published post is known by (a Facebook video's Page post), read with the
    Facebook comment reader."""
    from tidings.core.platforms import Platform
    from tidings.engagement.intake import OtherIds
    from tidings.publishing.clients.comments import FacebookComments

    facebook = comment_readers().get(Platform.FACEBOOK)
    return OtherIds(facebook if isinstance(facebook, FacebookComments) else None, root.publishing_credentials)


@lru_cache(maxsize=1)
def comment_intake() -> CommentIntake:
    """The comment_intake function: Meta entries, published posts and new comments from the stream;
    the periodic read of watched posts."""
    from tidings.core.streams import StreamConsumer
    from tidings.engagement.intake import (
        CommentAnalysisStep,
        CommentIntake,
        MetaEventIntake,
        PublishedPostWatcher,
    )
    from tidings.engagement.replies import REPLY_RETRIES, ReplyPass, ReplyStep
    from tidings.wiring.crises import crisis_evaluation

    repo = comment_repository()
    watch_for = timedelta(days=get_settings().comment_watch_days)
    consumers: list[StreamConsumer] = [
        MetaEventIntake(root.account_store(), repo, DEFAULT_CLOCK),
        PublishedPostWatcher(repo, watch_for, DEFAULT_CLOCK, other_ids=post_ids_on_platforms()),
        ReplyStep(reply_service()),  # drafts, auto-replies and retries of replies (changed comments)
    ]
    analyzer = comment_analyzer()
    if analyzer is not None:
        # a comment the analysis decided to hide (where the user allows it) is hidden as by the route
        hide = comment_service().hide
        consumers.append(CommentAnalysisStep(repo, analyzer, DEFAULT_CLOCK, hide=hide))
    crises = crisis_evaluation()  # crisis detection, as comments are analysed and every 15 minutes
    settings = get_settings()
    # replies due again (a retry after its back-off, a call or read-back whose lease ended)
    reply_pass = ReplyPass(
        reply_service(), limit=settings.reply_pass_limit, per_user=settings.reply_pass_per_user
    )
    return CommentIntake(
        comment_fetcher(),
        consumers,
        periodic=[crises.periodic],
        observers=[crises],
        schedules={REPLY_RETRIES: reply_pass.run},
    )
