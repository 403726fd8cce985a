"""The composition root's part for A/B tests: the test store, the use-case the routes call (its
variants scheduled through the scheduling service, their metrics read from the post analytics, a
winner recorded as an insight) and the monitor's pass."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tidings import wiring as root
from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.engagement.abtests.service import ABTestService
    from tidings.store.abtests import ABTestRepository


@lru_cache(maxsize=1)
def ab_test_repository() -> ABTestRepository:
    from tidings.store.abtests import DynamoABTestRepository
    from tidings.store.dynamo import dynamodb_client

    return DynamoABTestRepository(get_settings().table_name, dynamodb_client())


@lru_cache(maxsize=1)
def ab_test_service() -> ABTestService:
    from tidings.engagement.abtests.service import ABTestService
    from tidings.store.insights import DynamoInsightRepository

    return ABTestService(
        ab_test_repository(),
        root.scheduling_service(),
        root.post_repository(),
        root.post_analytics_repository(),
        DynamoInsightRepository(get_settings().table_name),
        DEFAULT_CLOCK,
    )


def ab_test_monitor() -> dict[str, Any]:
    """The monitor's run: every running test evaluated, those that can be decided decided."""
    return asdict(ab_test_service().monitor())
