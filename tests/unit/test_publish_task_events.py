"""The publish task's input is parsed once, at the function's boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tidings.publishing.task_events import PublishAttempt, PublishCrash, parse_publish_task

EVENTS = Path(__file__).resolve().parents[2] / "events" / "publish_task"


def test_the_sample_attempt_parses_and_hands_back_the_machines_fields_unchanged() -> None:
    event = json.loads((EVENTS / "publish_attempt.json").read_text())

    task = parse_publish_task(event)

    assert isinstance(task, PublishAttempt)
    assert task.echo() == {k: event[k] for k in ("userId", "postId", "version", "dueAt", "wakeAt")}
    assert task.due.tzinfo is not None


def test_an_input_without_an_action_is_a_publish_attempt_on_its_first_try() -> None:
    task = parse_publish_task(
        {"userId": "u1", "postId": "p1", "version": 2, "dueAt": "2026-03-02T12:00:00Z", "executionId": "e"}
    )

    assert isinstance(task, PublishAttempt)
    assert task.attempt == 1
    assert "wakeAt" not in task.echo()


def test_a_crash_record_keeps_the_caught_error() -> None:
    event = json.loads((EVENTS / "record_crash.json").read_text())

    task = parse_publish_task(event)

    assert isinstance(task, PublishCrash)
    assert task.error == event["error"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": 0}, "version"),
        ({"version": "two"}, "version"),
        ({"dueAt": "tomorrow"}, "dueAt"),
        ({"dueAt": "2026-03-02T12:00:00"}, "dueAt"),  # no offset: which noon?
        ({"postId": ""}, "postId"),
        ({"action": "explode"}, "action"),
    ],
)
def test_a_wrong_field_is_named(change: dict[str, object], field: str) -> None:
    event = {
        "userId": "u1",
        "postId": "p1",
        "version": 1,
        "dueAt": "2026-03-02T12:00:00Z",
        "executionId": "e",
    }

    with pytest.raises(ValidationError) as raised:
        parse_publish_task({**event, **change})

    assert any(
        field in str(error["loc"]) or error["type"] == "union_tag_invalid" for error in raised.value.errors()
    )
