"""The stream poller on DynamoDB Local's real stream: Lambda's event source mapping semantics."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from local_aws import RecordingFunction, wait_for

from infra.local.lambda_host import LambdaHost
from infra.local.provision import Endpoints, client
from infra.local.stream_poller import StreamPoller
from infra.topology import StreamTrigger

pytestmark = pytest.mark.timeout(120)


@dataclass
class Sink(RecordingFunction):
    def names(self) -> list[list[str]]:
        with self.lock:
            return [[r["dynamodb"]["NewImage"]["name"]["S"] for r in batch] for batch in self.batches]

    def delivered(self) -> list[str]:
        return [name for batch in self.names() for name in batch]


@dataclass
class Table:
    name: str
    stream_arn: str
    ddb: Any

    def put(self, name: str, entity_type: str = "ScheduledPost") -> None:
        self.ddb.put_item(
            TableName=self.name,
            Item={
                "PK": {"S": "USER#u1"},
                "SK": {"S": f"ITEM#{name}"},
                "EntityType": {"S": entity_type},
                "name": {"S": name},
                "blob": {"B": b"\x00\xff"},
                "results": {"M": {}},
                "nested": {"L": [{"M": {"inner": {"M": {}}}}]},
            },
        )


@pytest.fixture
def table(local_endpoints: Endpoints) -> Iterator[Table]:
    ddb = client("dynamodb", local_endpoints)
    name = f"poller-{uuid.uuid4().hex[:10]}"
    resp = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    yield Table(name, resp["TableDescription"]["LatestStreamArn"], ddb)
    ddb.delete_table(TableName=name)


@pytest.fixture
def failure_queue(local_endpoints: Endpoints) -> str:
    sqs = client("sqs", local_endpoints)
    url: str = sqs.create_queue(QueueName=f"stream-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url


@pytest.fixture
def start_poller(local_endpoints: Endpoints, table: Table, failure_queue: str) -> Iterator[Any]:
    pollers: list[StreamPoller] = []

    def start(
        trigger: StreamTrigger,
        sink: Sink,
        *,
        sqs: Any = None,
        invoke: Callable[[Callable[..., Any]], Callable[..., Any]] = lambda invoke: invoke,
    ) -> StreamPoller:
        host = LambdaHost(functions=())
        host.register(trigger.function, sink)
        poller = StreamPoller(
            trigger,
            table.stream_arn,
            invoke(host.invoke),
            client("dynamodbstreams", local_endpoints),
            sqs_client=sqs or client("sqs", local_endpoints),
            on_failure_queue_url=failure_queue,
            function_arn=host.function_arn(trigger.function),
            poll_interval=0.05,
            retry_delay=0.01,
        )
        poller.start()
        pollers.append(poller)
        return poller

    yield start
    for poller in pollers:
        poller.stop()


def _messages(local_endpoints: Endpoints, queue_url: str, expected: int) -> list[dict[str, Any]]:
    sqs = client("sqs", local_endpoints)
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(out) < expected and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        out.extend(json.loads(m["Body"]) for m in resp.get("Messages", []))
    return out


def test_matching_records_arrive_in_lambdas_event_shape_and_others_are_skipped(
    table: Table, start_poller: Any
) -> None:
    # Given a trigger for ScheduledPost records only, batches of at most 2
    sink = Sink()
    trigger = StreamTrigger(function="sink", batch_size=2, entity_types=("ScheduledPost",))
    table.put("account", entity_type="Account")
    for name in ("p1", "p2", "p3"):
        table.put(name)

    # When the poller reads the stream
    start_poller(trigger, sink)

    # Then the posts arrive in order, in batches of at most 2, and the account never does
    assert wait_for(lambda: len(sink.delivered()) >= 3)
    assert sink.delivered() == ["p1", "p2", "p3"]
    assert all(len(batch) <= 2 for batch in sink.batches)
    record = sink.batches[0][0]
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventName"] == "INSERT"
    assert record["eventVersion"] == "1.1"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == table.stream_arn
    assert record["dynamodb"]["Keys"] == {"PK": {"S": "USER#u1"}, "SK": {"S": "ITEM#p1"}}
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}  # binary as base64, as Lambda sends it
    # Empty maps stay typed maps (DynamoDB Local's stream drops the type; DynamoDB Streams does not)
    assert record["dynamodb"]["NewImage"]["results"] == {"M": {}}
    assert record["dynamodb"]["NewImage"]["nested"] == {"L": [{"M": {"inner": {"M": {}}}}]}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int | float)

    # And records written later keep flowing
    table.put("p4")
    assert wait_for(lambda: "p4" in sink.delivered())


def test_a_partial_batch_failure_retries_from_the_lowest_failed_record(
    table: Table, start_poller: Any
) -> None:
    # Given a function that reports "bad" as failed the first time it sees it
    seen_bad = []

    def respond(batch: list[dict[str, Any]]) -> dict[str, Any]:
        for record in batch:
            if record["dynamodb"]["NewImage"]["name"]["S"] == "bad" and not seen_bad:
                seen_bad.append(record)
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    sink = Sink(respond)
    for name in ("a", "bad", "c"):
        table.put(name)

    # When the three records are delivered as one batch
    start_poller(StreamTrigger(function="partial", batch_size=10), sink)

    # Then the retry starts at "bad": "a" is not delivered again, "c" is
    assert wait_for(lambda: len(sink.batches) >= 2)
    assert sink.names() == [["a", "bad", "c"], ["bad", "c"]]


def test_a_poison_record_is_bisected_out_sent_to_the_failure_queue_and_the_shard_moves_on(
    local_endpoints: Endpoints, table: Table, failure_queue: str, start_poller: Any
) -> None:
    # Given a function that raises whenever its batch holds "poison", 2 retries, bisect on error
    def respond(batch: list[dict[str, Any]]) -> None:
        if any(r["dynamodb"]["NewImage"]["name"]["S"] == "poison" for r in batch):
            raise ValueError("cannot handle poison")

    sink = Sink(respond)
    for name in ("a", "poison", "c", "d"):
        table.put(name)
    trigger = StreamTrigger(function="bisect", batch_size=10, maximum_retry_attempts=2, bisect_on_error=True)

    # When the poller delivers them
    poller = start_poller(trigger, sink)
    assert wait_for(lambda: len(sink.batches) >= 1)
    table.put("after")

    # Then the bad record is isolated and retried twice on its own, the others get through
    assert wait_for(lambda: "after" in sink.delivered())
    names = sink.names()
    assert names[:2] == [["a", "poison", "c", "d"], ["a", "poison"]]
    assert names.count(["poison"]) == 3  # the first try on its own, then 2 retries
    for name in ("a", "c", "d", "after"):
        assert [name] in names or any(name in batch and "poison" not in batch for batch in names)

    # And the failure queue holds Lambda's invocation record for exactly that record
    messages = _messages(local_endpoints, failure_queue, 1)
    assert len(messages) == 1
    info = messages[0]["DDBStreamBatchInfo"]
    poison_seq = next(
        r["dynamodb"]["SequenceNumber"]
        for batch in sink.batches
        for r in batch
        if r["dynamodb"]["NewImage"]["name"]["S"] == "poison"
    )
    assert info["startSequenceNumber"] == poison_seq
    assert info["endSequenceNumber"] == poison_seq
    assert info["batchSize"] == 1
    assert info["streamArn"] == table.stream_arn
    assert messages[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert messages[0]["requestContext"]["functionArn"].endswith(":function:tidings-bisect")
    assert messages[0]["responseContext"]["functionError"] == "Unhandled"
    assert poller.stats.records_discarded == 1


def test_partial_failures_that_never_clear_are_discarded_after_the_retries(
    local_endpoints: Endpoints, table: Table, failure_queue: str, start_poller: Any
) -> None:
    # Given a function that always reports "stuck" as failed, 1 retry
    def respond(batch: list[dict[str, Any]]) -> dict[str, Any]:
        failed = [
            {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
            for r in batch
            if r["dynamodb"]["NewImage"]["name"]["S"] == "stuck"
        ]
        return {"batchItemFailures": failed}

    sink = Sink(respond)
    for name in ("ok", "stuck", "tail"):
        table.put(name)
    start_poller(StreamTrigger(function="stuck", batch_size=10, maximum_retry_attempts=1), sink)
    assert wait_for(lambda: len(sink.batches) >= 1)

    # When more records follow
    table.put("later")

    # Then the stuck remainder is retried once, then dropped to the failure queue, and "later" arrives
    assert wait_for(lambda: "later" in sink.delivered())
    assert sink.names()[:2] == [["ok", "stuck", "tail"], ["stuck", "tail"]]
    messages = _messages(local_endpoints, failure_queue, 1)
    assert [m["DDBStreamBatchInfo"]["batchSize"] for m in messages] == [2]


@dataclass
class Unreachable:
    """An SQS client whose first `outages` sends fail as if moto were down, then the real one."""

    real: Any
    outages: int

    def send_message(self, **request: Any) -> Any:
        if self.outages > 0:
            self.outages -= 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
        return self.real.send_message(**request)


def test_a_discarded_record_waits_for_the_failure_queue_and_nothing_after_it_is_lost(
    local_endpoints: Endpoints, table: Table, failure_queue: str, start_poller: Any
) -> None:
    # Given a function that always fails "poison", no retries, batches of one record, and a failure
    # queue that is unreachable for its first 4 sends
    def respond(batch: list[dict[str, Any]]) -> None:
        if batch[0]["dynamodb"]["NewImage"]["name"]["S"] == "poison":
            raise ValueError("cannot handle poison")

    sink = Sink(respond)
    for name in ("a", "poison", "c", "d"):
        table.put(name)
    sqs = Unreachable(client("sqs", local_endpoints), outages=4)
    trigger = StreamTrigger(function="dest-down", batch_size=1, maximum_retry_attempts=0)

    # When the poller discards "poison" while the queue is down, then the queue comes back
    poller = start_poller(trigger, sink, sqs=sqs)

    # Then the shard waits for the queue: the poison record lands there once, and the records after
    # it are each delivered once, in order
    assert wait_for(lambda: "d" in sink.delivered())
    assert sink.delivered() == ["a", "poison", "c", "d"]
    assert sqs.outages == 0
    messages = _messages(local_endpoints, failure_queue, 1)
    assert [m["DDBStreamBatchInfo"]["batchSize"] for m in messages] == [1]
    assert poller.stats.records_discarded == 1
    assert any("on-failure destination is unreachable" in e for e in poller.stats.errors)


def test_a_page_interrupted_by_an_unreachable_function_is_read_again_from_the_checkpoint(
    table: Table, start_poller: Any
) -> None:
    # Given a function host that is unreachable on the second invocation only
    calls = {"n": 0}

    def flaky(invoke: Callable[..., Any]) -> Callable[..., Any]:
        def call(function: str, event: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise ConnectionError("the function host is not answering")
            return invoke(function, event)

        return call

    sink = Sink()
    for name in ("a", "b", "c"):
        table.put(name)

    # When the poller meets the outage in the middle of a page
    start_poller(StreamTrigger(function="host-down", batch_size=1), sink, invoke=flaky)

    # Then the rest of the page is delivered after it, and what was handled is not delivered again
    assert wait_for(lambda: "c" in sink.delivered())
    assert sink.delivered() == ["a", "b", "c"]
