"""The composition root's engagement part: the comments (the comment_intake function, and the comment
routes of the HTTP API)."""

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
    from tidings.engagement.intake import CommentIntake
    from tidings.publishing.clients.comments import CommentReader
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
    )


def comment_analyzer() -> Analyzer | None:
    """The analyzer of new comments (tidings.engagement.analysis), when this build has one."""
    import importlib

    from tidings.engagement.comments import AnalysisAdapter

    try:
        analysis = importlib.import_module("tidings.engagement.analysis")
    except ImportError:
        return None
    return AnalysisAdapter(analysis.local_analyzer(), DEFAULT_CLOCK)


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
    from tidings.wiring.crises import crisis_evaluation

    repo = comment_repository()
    watch_for = timedelta(days=get_settings().comment_watch_days)
    consumers: list[StreamConsumer] = [
        MetaEventIntake(root.account_store(), repo, DEFAULT_CLOCK),
        PublishedPostWatcher(repo, watch_for, DEFAULT_CLOCK),
    ]
    analyzer = comment_analyzer()
    if analyzer is not None:
        consumers.append(CommentAnalysisStep(repo, analyzer, DEFAULT_CLOCK))
    crises = crisis_evaluation()  # crisis detection, as comments are analysed and every 15 minutes
    return CommentIntake(comment_fetcher(), consumers, periodic=[crises.periodic], observers=[crises])
