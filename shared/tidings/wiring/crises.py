"""The composition root's crisis part: crisis detection (evaluated in the comment_intake function), the
queue hold the publish step reads, the crisis e-mail, and the crisis routes of the HTTP API."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings
from tidings.wiring.notifications import notification_mail

if TYPE_CHECKING:
    from tidings.engagement.crisis.evaluation import CrisisEvaluationStep
    from tidings.engagement.crisis.mail import CrisisMailer
    from tidings.engagement.crisis.service import CrisisService
    from tidings.store.crises import CrisisRepository, QueueHoldRepository


@lru_cache(maxsize=1)
def crisis_repository() -> CrisisRepository:
    from tidings.store.crises import DynamoCrisisRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoCrisisRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def queue_holds() -> QueueHoldRepository:
    from tidings.store.crises import DynamoQueueHoldRepository
    from tidings.store.dynamo import dynamodb_client

    s = get_settings()
    return DynamoQueueHoldRepository(s.table_name, dynamodb_client(), due_shards=s.due_shards)


@lru_cache(maxsize=1)
def crisis_service() -> CrisisService:
    from tidings.engagement.crisis.service import CrisisService
    from tidings.store.comments import DynamoCommentRepository
    from tidings.store.dynamo import dynamodb_client
    from tidings.store.insights import DynamoInsightRepository

    s = get_settings()
    return CrisisService(
        crisis_repository(),
        queue_holds(),
        DynamoCommentRepository(s.table_name, dynamodb_client()),
        DynamoInsightRepository(s.table_name),
        DEFAULT_CLOCK,
        require_confirmed=lambda user_id, emails: notification_mail().require_confirmed(user_id, emails),
    )


def crisis_evaluation() -> CrisisEvaluationStep:
    from tidings.engagement.crisis.evaluation import CrisisEvaluationStep

    return CrisisEvaluationStep(crisis_service())


@lru_cache(maxsize=1)
def crisis_mailer() -> CrisisMailer:
    from tidings.engagement.crisis.mail import CrisisMailer

    return CrisisMailer(crisis_repository(), notification_mail(), DEFAULT_CLOCK)


__all__ = ["crisis_evaluation", "crisis_mailer", "crisis_repository", "crisis_service", "queue_holds"]
