"""A stream batch goes to the consumers that want each record; failures report the record to retry
from, including work deferred to the end of the batch."""

from __future__ import annotations

from typing import Any

from tidings.core.streams import dispatch_batch


def record(seq: int, kind: str) -> dict[str, Any]:
    return {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": f"{seq:05d}"}, "kind": kind}


class Consumer:
    def __init__(self, kind: str, *, defer: bool = False, fail_on: int | None = None) -> None:
        self.kind, self.defer, self.fail_on = kind, defer, fail_on
        self.applied: list[str] = []
        self.flushed: list[list[str]] = []
        self.flush_fails = False

    def wants(self, rec: dict[str, Any]) -> bool:
        return bool(rec["kind"] == self.kind)

    def apply(self, rec: dict[str, Any], deferred: list[Any]) -> None:
        seq = rec["dynamodb"]["SequenceNumber"]
        if self.fail_on is not None and int(seq) == self.fail_on:
            raise RuntimeError("boom")
        self.applied.append(seq)
        if self.defer:
            deferred.append(seq)

    def flush(self, deferred: list[Any]) -> None:
        if self.flush_fails:
            raise RuntimeError("flush failed")
        self.flushed.append(list(deferred))


def test_each_record_reaches_the_consumer_that_wants_it_and_others_are_skipped() -> None:
    posts, tasks = Consumer("post", defer=True), Consumer("task")
    batch = {"Records": [record(1, "post"), record(2, "task"), record(3, "other"), record(4, "post")]}

    assert dispatch_batch(batch, [posts, tasks]) == {"batchItemFailures": []}

    assert posts.applied == ["00001", "00004"]
    assert posts.flushed == [["00001", "00004"]]  # deferred work is done once, for the whole batch
    assert tasks.applied == ["00002"]
    assert tasks.flushed == []  # nothing deferred, nothing to flush


def test_a_failing_record_is_retried_from_the_first_record_whose_deferred_work_is_not_done() -> None:
    posts, tasks = Consumer("post", defer=True), Consumer("task", fail_on=3)
    batch = {"Records": [record(1, "task"), record(2, "post"), record(3, "task"), record(4, "post")]}

    answer = dispatch_batch(batch, [posts, tasks])

    assert answer == {"batchItemFailures": [{"itemIdentifier": "00002"}]}
    assert posts.flushed == []  # the batch stopped: record 4 was never applied
    assert posts.applied == ["00002"]


def test_a_failing_record_without_deferred_work_before_it_is_retried_from_itself() -> None:
    tasks = Consumer("task", fail_on=2)

    answer = dispatch_batch({"Records": [record(1, "task"), record(2, "task")]}, [tasks])

    assert answer == {"batchItemFailures": [{"itemIdentifier": "00002"}]}


def test_a_failed_flush_retries_from_the_first_deferring_record() -> None:
    posts = Consumer("post", defer=True)
    posts.flush_fails = True

    answer = dispatch_batch({"Records": [record(1, "task"), record(2, "post"), record(3, "post")]}, [posts])

    assert answer == {"batchItemFailures": [{"itemIdentifier": "00002"}]}
