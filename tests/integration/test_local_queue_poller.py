"""The queue poller on moto's SQS: Lambda's SQS event source mapping semantics (batches, partial batch
responses, messages coming back after their visibility timeout, the queue's dead-letter queue)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from local_aws import RecordingFunction, queue_with_dead_letters, wait_for

from infra.local.lambda_host import LambdaHost
from infra.local.provision import LocalStack
from infra.local.queue_poller import QueuePoller
from infra.topology import QueueTrigger

pytestmark = pytest.mark.timeout(120)


@dataclass
class Sink(RecordingFunction):
    def bodies(self) -> list[str]:
        with self.lock:
            return [r["body"] for batch in self.batches for r in batch]


@dataclass
class Queues:
    sqs: Any
    url: str
    arn: str
    dlq_url: str

    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def count(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[str]:
        resp = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10)
        return [m["Body"] for m in resp.get("Messages", [])]


@pytest.fixture
def queues(local_stack: LocalStack) -> Queues:
    """A queue of its own for each test: 1 s visibility, dead letters after 2 receives."""
    sqs = local_stack.client("sqs")
    pair = queue_with_dead_letters(
        sqs, f"poller-{uuid.uuid4().hex[:10]}", visibility_seconds=1, max_receives=2
    )
    return Queues(sqs, pair.url, pair.arn, pair.dead_letter_url)


@pytest.fixture
def run(
    lambda_host: LambdaHost, local_stack: LocalStack, queues: Queues
) -> Iterator[Callable[..., QueuePoller]]:
    started: list[QueuePoller] = []

    def start(sink: Sink, **trigger: Any) -> QueuePoller:
        name = f"queue_sink_{uuid.uuid4().hex[:8]}"
        lambda_host.register(name, sink)
        poller = QueuePoller(
            QueueTrigger(function=name, queue="test", **trigger),
            queues.url,
            queues.arn,
            lambda_host.invoke,
            local_stack.client("sqs"),
        )
        poller.start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def test_messages_arrive_in_lambdas_sqs_event_shape_and_are_deleted_after_success(
    queues: Queues, run: Callable[..., QueuePoller]
) -> None:
    sink = Sink()
    queues.send("one", "two")

    poller = run(sink)

    assert wait_for(lambda: sorted(sink.bodies()) == ["one", "two"])
    assert wait_for(lambda: queues.count() == 0)
    record = sink.batches[0][0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        queues.arn,
        "us-east-1",
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert poller.stats.messages_deleted == 2


def test_a_batch_holds_at_most_batch_size_messages(queues: Queues, run: Callable[..., QueuePoller]) -> None:
    sink = Sink()
    queues.send(*[f"m{i}" for i in range(25)])

    run(sink, batch_size=4)

    assert wait_for(lambda: len(sink.bodies()) == 25)
    assert max(len(batch) for batch in sink.batches) <= 4
    assert sorted(sink.bodies()) == sorted(f"m{i}" for i in range(25))


def test_only_the_messages_reported_failed_come_back_after_their_visibility_timeout(
    queues: Queues, run: Callable[..., QueuePoller]
) -> None:
    seen: Counter[str] = Counter()

    def respond(records: list[dict[str, Any]]) -> Any:
        failed = []
        for record in records:
            seen[record["body"]] += 1
            if record["body"] == "flaky" and seen["flaky"] == 1:
                failed.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failed}

    sink = Sink(respond)
    queues.send("steady", "flaky")

    run(sink)

    assert wait_for(lambda: seen["flaky"] == 2)
    assert wait_for(lambda: queues.count() == 0)
    assert seen["steady"] == 1
    (again,) = [r for batch in sink.batches[1:] for r in batch]
    assert again["attributes"]["ApproximateReceiveCount"] == "2"


def _fails_once_as_a_whole(how: str) -> Callable[[list[dict[str, Any]]], Any]:
    """A function whose first batch fails whole: it raises, or names a message not in the batch."""
    calls = 0

    def respond(records: list[dict[str, Any]]) -> Any:
        nonlocal calls
        calls += 1
        if calls > 1:
            return None
        if how == "raises":
            raise RuntimeError("the function crashed")
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message"}]}

    return respond


@pytest.mark.parametrize("how", ["raises", "names another message"])
def test_a_batch_that_fails_as_a_whole_comes_back_whole(
    queues: Queues, run: Callable[..., QueuePoller], how: str
) -> None:
    sink = Sink(_fails_once_as_a_whole(how))
    queues.send("a", "b")

    poller = run(sink)  # both are waiting: one batch

    assert wait_for(lambda: queues.count() == 0)
    assert Counter(sink.bodies()) == {"a": 2, "b": 2}
    assert poller.stats.last_error is not None
    assert (
        "the function crashed" if how == "raises" else "invalid itemIdentifier"
    ) in poller.stats.last_error


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_queue_after_max_receives(
    queues: Queues, run: Callable[..., QueuePoller]
) -> None:
    def respond(records: list[dict[str, Any]]) -> Any:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in records if r["body"] == "poison"
            ]
        }

    sink = Sink(respond)
    queues.send("poison", "fine")

    run(sink)

    dead: list[str] = []
    assert wait_for(lambda: bool(dead.extend(queues.dead_letters()) or dead))
    assert dead == ["poison"]
    assert sink.bodies().count("poison") == 2  # maxReceiveCount
    assert sink.bodies().count("fine") == 1


def test_maximum_concurrency_runs_that_many_batches_at_once(
    queues: Queues, run: Callable[..., QueuePoller]
) -> None:
    inside = 0
    most = 0
    lock = threading.Lock()
    both_in = threading.Event()

    def respond(records: list[dict[str, Any]]) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            if inside == 2:
                both_in.set()
        both_in.wait(10)  # hold the batch until the other poller has one too
        with lock:
            inside -= 1
        return None

    queues.send("p", "q")

    run(Sink(respond), batch_size=1, maximum_concurrency=2)

    assert wait_for(lambda: queues.count() == 0)
    assert most == 2
