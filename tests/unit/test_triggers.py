"""Background functions tell a stream batch from a periodic run at their boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tidings.core.triggers import PeriodicRun, StreamBatch, ValidationError, parse_trigger

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_a_stream_batch_keeps_its_records_in_order() -> None:
    event = json.loads((EVENTS / "event_delivery" / "post_published.json").read_text())

    trigger = parse_trigger(event)

    assert isinstance(trigger, StreamBatch)
    assert trigger.event() == {"Records": event["Records"]}


@pytest.mark.parametrize("name", ["event_delivery/retry_pass.json", "sweeper/periodic.json"])
def test_the_sample_periodic_runs_parse(name: str) -> None:
    trigger = parse_trigger(json.loads((EVENTS / name).read_text()))

    assert isinstance(trigger, PeriodicRun)
    assert trigger.schedule


def test_scheduler_fills_in_the_scheduled_time() -> None:
    trigger = parse_trigger(
        {"source": "tidings.periodic", "schedule": "webhook-retries", "scheduledTime": "2026-12-06T10:01:00Z"}
    )

    assert isinstance(trigger, PeriodicRun)
    assert trigger.scheduled_at is not None
    assert trigger.scheduled_at.isoformat() == "2026-12-06T10:01:00+00:00"


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": "not a list"}, {"source": "tidings.periodic"}, {"schedule": ""}, {"Records": [1]}],
)
def test_anything_else_is_refused(event: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_trigger(event)
