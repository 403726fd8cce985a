"""An A/B test that is decided becomes one `abtest.completed` webhook event through the table's stream
(read from the stored item's images as event_delivery reads them), with its winner and each variant's
figures; a stopped or failed test, or a test still collecting, sends nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from abtest_data import NOW, ab_test

from tidings.models.abtests import ABTest, ABTestStatus, Evaluation, VariantResult
from tidings.store.abtests import ab_test_to_item
from tidings.store.dynamo import serialize
from tidings.webhooks.events import SUBSCRIBABLE, EventType, events_from_record, is_event_source


def record(new: ABTest, old: ABTest | None) -> dict[str, Any]:
    images: dict[str, Any] = {"NewImage": serialize(ab_test_to_item(new))}
    if old is not None:
        images["OldImage"] = serialize(ab_test_to_item(old))
    return {"eventName": "MODIFY" if old else "INSERT", "eventSource": "aws:dynamodb", "dynamodb": images}


def decided(status: ABTestStatus, winner: str | None) -> ABTest:
    evaluation = Evaluation(
        at=NOW,
        reading_age_seconds=86400.0,
        platforms=("facebook",),
        results=(
            VariantResult("A", 3000, 90, 1, 0.03, (0.024, 0.037), 0.001),
            VariantResult("B", 3000, 180, 1, 0.06, (0.052, 0.069), 0.999),
        ),
        sample_reached=True,
    )
    return replace(
        ab_test(), status=status, winner=winner, evaluation=evaluation, completed_at=NOW, insight_id="ins_1"
    )


def test_a_test_with_a_winner_sends_abtest_completed_once() -> None:
    running = ab_test()
    done = decided(ABTestStatus.COMPLETED, "B")
    change = record(done, running)

    assert "abtest.completed" in SUBSCRIBABLE
    assert is_event_source(change)
    (event,) = events_from_record(change)
    assert event.type is EventType.ABTEST_COMPLETED
    assert event.data["winner"] == "B"
    assert event.data["insightId"] == "ins_1"
    assert [v["probabilityToBeBest"] for v in event.data["variants"]] == [0.001, 0.999]
    assert event.data["testPath"] == f"/ab-tests/{done.test_id}"
    assert events_from_record(record(done, running)) == [event]  # the same record read again: same id
    assert events_from_record(record(done, done)) == []  # a later write of the decided test


def test_an_inconclusive_test_sends_it_without_a_winner() -> None:
    (event,) = events_from_record(record(decided(ABTestStatus.INCONCLUSIVE, None), ab_test()))

    assert (event.data["status"], event.data["winner"]) == ("inconclusive", None)


@pytest.mark.parametrize("status", [ABTestStatus.STOPPED, ABTestStatus.FAILED, ABTestStatus.COLLECTING])
def test_other_changes_send_nothing(status: ABTestStatus) -> None:
    assert events_from_record(record(replace(ab_test(), status=status), ab_test())) == []
