"""Finds due posts that nobody claimed (a lost schedule, an outage) and starts them.

Runs every few minutes. Starting is idempotent (the execution is named after the post version), so a
post whose execution is merely waiting is left alone and nothing is started twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from tidings.aws.publishing import PublishStarter
from tidings.core.clock import Clock
from tidings.store.posts import PostRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    due: int
    started: int
    already_running: int
    failed: int


def sweep(posts: PostRepository, starter: PublishStarter, clock: Clock, grace_seconds: int) -> SweepReport:
    cutoff = clock.now() - timedelta(seconds=grace_seconds)
    due = posts.due_unclaimed(cutoff)
    started = already = failed = 0
    for post in due:
        try:
            if starter.start(post.user_id, post.post_id, post.version, post.scheduled_time):
                started += 1
                logger.warning(
                    "started overdue post %s v%s (due %s)", post.post_id, post.version, post.scheduled_time
                )
            else:
                already += 1
        except Exception:
            failed += 1
            logger.exception("could not start overdue post %s", post.post_id)
    return SweepReport(due=len(due), started=started, already_running=already, failed=failed)
