"""Lambda's DynamoDB event source mapping, played on DynamoDB Local's real stream.

What it reproduces (AWS Lambda developer guide: "Using AWS Lambda with Amazon DynamoDB",
"Configuring partial batch response with DynamoDB and Lambda", "Lambda parameters for Amazon
DynamoDB event source mappings", "Control which events Lambda sends to your function", and the
on-failure destination pages for stream sources):

- Shards are read in order, a parent shard to its end before its children; new shards are picked
  up as the shard list changes, and closed shards are finished and dropped.
- Records that do not match the trigger's filter (EntityType of NewImage or OldImage) are skipped:
  never delivered, never retried.
- At most `batch_size` records per invocation, in Lambda's event shape (eventID, eventName,
  eventVersion, eventSource, awsRegion, dynamodb{...}, eventSourceARN).
- With ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}`
  checkpoints before the lowest failed sequence number and retries from there. An empty or null
  list is a success; an itemIdentifier that is empty, null or not in the batch fails the batch.
- A function error with BisectBatchOnFunctionError splits the batch in two and retries each half;
  splitting does not use up the retry quota.
- After `maximum_retry_attempts` retries (or once a record is older than
  `maximum_record_age_seconds`), Lambda sends an invocation record describing the discarded batch
  (requestContext, responseContext, version, timestamp, DDBStreamBatchInfo) to the on-failure
  destination, here an SQS queue, and goes on with the shard: a bad record never blocks it.
- Nothing is skipped: the shard's checkpoint moves past a batch only once it was handled (delivered,
  or its record sent to the on-failure destination); past part of a batch once that part is (the
  records before the lowest failed one, a bisected half), and past the records the filter skipped.
  While the destination is unreachable the shard waits, trying again with back-off, and the rest of
  a page whose handling was interrupted (the function host unreachable, a stop) is read again from
  the checkpoint: records are delivered at least once, as Lambda's mapping does (Lambda Developer
  Guide, "Retain discarded records for a DynamoDB event source": a batch is discarded only after its
  retries, its maximum age, or its expiry).
- Retries of a failing batch back off exponentially from `retry_delay` to `max_retry_delay`, so a
  dependency down for a few seconds does not use up the retries at once (Lambda does not document its
  own interval between retries).

The poller asks for new records every `poll_interval` seconds while the stream is idle (it is on
the latency path of "schedule a post a few seconds ahead") and without pause while records flow;
a trigger with a batching window (MaximumBatchingWindowInSeconds) is read once per window.

With `positions` (infra/local/stream_checkpoints.py), a shard met for the first time is read after
the position saved for it, and every move of a shard's checkpoint is told to `positions` as it
happens, so what was handled before a stop is not delivered again after it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from infra.local.lambda_host import Invocation
from infra.local.repeats import RepeatedWarnings
from infra.topology import StreamTrigger

log = logging.getLogger("infra.local.streams")

Invoke = Callable[[str, Any], Invocation]


class ShardPositions(Protocol):
    """Where a consumer left off on each shard (the last sequence number it handled there)."""

    def position(self, shard_id: str) -> str | None: ...

    def handled(self, shard_id: str, sequence_number: str) -> None: ...


class _Stopped(Exception):
    """The poller was stopped in the middle of a page: what is not checkpointed is read again."""


def _jsonable(value: Any) -> Any:
    """boto3's stream record -> the JSON Lambda delivers (binary as base64, times as epoch seconds)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime):
        stamp = value.timestamp()
        return int(stamp) if stamp.is_integer() else stamp
    return value


def _attribute(value: Any) -> Any:
    """DynamoDB Local's stream writes an empty map as `{}` where DynamoDB Streams writes
    `{"M": {}}` (the table itself answers `{"M": {}}`): restore the typed form, at any depth."""
    if not isinstance(value, dict):
        return value
    if not value:
        return {"M": {}}
    if "M" in value and isinstance(value["M"], dict):
        return {"M": {k: _attribute(v) for k, v in value["M"].items()}}
    if "L" in value and isinstance(value["L"], list):
        return {"L": [_attribute(v) for v in value["L"]]}
    return value


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One stream record as it appears in a Lambda event's `Records`."""
    out = _jsonable(record)
    data = out.get("dynamodb", {})
    for image in ("Keys", "NewImage", "OldImage"):
        if isinstance(data.get(image), dict):
            data[image] = {name: _attribute(v) for name, v in data[image].items()}
    out["awsRegion"] = region
    out["eventSourceARN"] = stream_arn
    return out  # type: ignore[no-any-return]


def _entity_type(image: dict[str, Any] | None) -> str | None:
    if not image:
        return None
    value = image.get("EntityType")
    return value.get("S") if isinstance(value, dict) else None


def matches(trigger: StreamTrigger, record: dict[str, Any]) -> bool:
    """The trigger's event filter: EntityType of the new or the old image is one of entity_types."""
    if not trigger.entity_types:
        return True
    data = record.get("dynamodb", {})
    types = {_entity_type(data.get("NewImage")), _entity_type(data.get("OldImage"))}
    return any(t in trigger.entity_types for t in types if t)


def _seq(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


@dataclass
class _Segment:
    records: list[dict[str, Any]]
    retries: int = 0
    invocations: int = 0


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    checkpoint: str | None = None  # last sequence number handled
    finished: bool = False
    ended: bool = False  # the shard is closed and every record was read


@dataclass
class PollerStats:
    invocations: int = 0
    records_delivered: int = 0
    records_filtered: int = 0
    records_discarded: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)


class StreamPoller:
    """One event source mapping: a DynamoDB stream -> one function, on its own thread."""

    def __init__(
        self,
        trigger: StreamTrigger,
        stream_arn: str,
        invoke: Invoke,
        streams_client: Any,
        *,
        sqs_client: Any = None,
        on_failure_queue_url: str | None = None,
        function_arn: str = "",
        region: str = "us-east-1",
        poll_interval: float = 0.1,
        shard_refresh_interval: float = 1.0,
        retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
        positions: ShardPositions | None = None,
    ) -> None:
        self.trigger = trigger
        self.stream_arn = stream_arn
        self._invoke = invoke
        self._streams = streams_client
        self._sqs = sqs_client
        self._failure_queue = on_failure_queue_url
        self.function_arn = function_arn or trigger.function
        self.region = region
        self.poll_interval = poll_interval
        self.shard_refresh_interval = shard_refresh_interval
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.stats = PollerStats()
        self._positions = positions
        self._shards: dict[str, _Shard] = {}
        self._done: set[str] = set()  # finished shards already forgotten: never read again
        self._last_refresh = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warnings = RepeatedWarnings(log)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.trigger.function}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception as exc:  # keep polling: DynamoDB Local restarts, transient errors
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._warnings.warning(f"stream poller for {self.trigger.function}: {self.stats.last_error}")
                for shard in self._shards.values():
                    shard.iterator = None  # a restarted DynamoDB Local knows no iterator of before
                busy = False
                self._stop.wait(1.0)
            else:
                self._warnings.clear()
            window = self.trigger.max_batching_window_seconds
            if window > 0:
                # MaximumBatchingWindowInSeconds: records are gathered for up to the window before
                # the function is invoked, so the stream is read once per window at most.
                self._stop.wait(window)
            elif not busy:
                self._stop.wait(self.poll_interval)

    # -- shards ------------------------------------------------------------------------------
    def _refresh_shards(self) -> None:
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id not in self._shards and shard_id not in self._done:
                    saved = self._positions.position(shard_id) if self._positions else None
                    self._shards[shard_id] = _Shard(shard_id, shard.get("ParentShardId"), checkpoint=saved)
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last
        self._last_refresh = time.monotonic()

    def _ready(self, shard: _Shard) -> bool:
        """A child shard waits until its parent is read to the end (records stay in order)."""
        parent = self._shards.get(shard.parent_id) if shard.parent_id else None
        return parent is None or parent.finished

    def _iterator(self, shard: _Shard) -> str | None:
        if shard.iterator is None:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
            if shard.checkpoint is None:
                kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            else:
                kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
                kwargs["SequenceNumber"] = shard.checkpoint
            try:
                try:
                    shard.iterator = self._streams.get_shard_iterator(**kwargs)["ShardIterator"]
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "TrimmedDataAccessException":
                        raise
                    # the checkpoint's record was trimmed: every record left on the shard is after it
                    kwargs = {**kwargs, "ShardIteratorType": "TRIM_HORIZON"}
                    kwargs.pop("SequenceNumber")
                    shard.iterator = self._streams.get_shard_iterator(**kwargs)["ShardIterator"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    shard.finished = True  # trimmed away
                    return None
                raise
        return shard.iterator

    def poll_once(self) -> bool:
        """Read every ready shard once and deliver what it holds. True if any record was read."""
        if not self._shards or time.monotonic() - self._last_refresh >= self.shard_refresh_interval:
            self._refresh_shards()
        busy = False
        for shard in sorted(self._shards.values(), key=lambda s: s.shard_id):
            if shard.finished or not self._ready(shard) or self._stop.is_set():
                continue
            busy |= self._poll_shard(shard)
        # Forget finished shards whose children no longer need them for ordering.
        for shard_id in [s.shard_id for s in self._shards.values() if s.finished]:
            needed = any(s.parent_id == shard_id and not s.finished for s in self._shards.values())
            if not needed and len(self._shards) > 1:
                del self._shards[shard_id]
                self._done.add(shard_id)
        return busy

    def _poll_shard(self, shard: _Shard) -> bool:
        iterator = self._iterator(shard)
        if iterator is None:
            return False
        try:
            resp = self._streams.get_records(ShardIterator=iterator, Limit=1000)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                shard.iterator = None
                return False
            raise
        records: list[dict[str, Any]] = resp.get("Records", [])
        if records:
            try:
                self._handle(shard, records)
            except _Stopped:
                shard.iterator = None
                return False
            except Exception:
                shard.iterator = None  # read the rest again from the checkpoint, never skip it
                raise
        shard.iterator = resp.get("NextShardIterator")
        if shard.iterator is None:
            shard.finished = True
        return bool(records)

    # -- delivery ----------------------------------------------------------------------------
    def _handle(self, shard: _Shard, records: list[dict[str, Any]]) -> None:
        """Deliver a page batch by batch, moving the checkpoint past each batch once it is handled."""
        wanted = [record for record in records if matches(self.trigger, record)]
        size = max(1, self.trigger.batch_size)
        for start in range(0, len(wanted), size):
            batch = wanted[start : start + size]
            self._deliver(shard, batch)
            self._checkpoint(shard, batch[-1])
        self.stats.records_filtered += len(records) - len(wanted)
        self._checkpoint(shard, records[-1])

    def _checkpoint(self, shard: _Shard, record: dict[str, Any]) -> None:
        """Every record of the shard up to `record` is handled (delivered, discarded or filtered)."""
        sequence_number = record["dynamodb"]["SequenceNumber"]
        if shard.checkpoint is not None and int(sequence_number) <= int(shard.checkpoint):
            return
        shard.checkpoint = sequence_number
        if self._positions is not None:
            self._positions.handled(shard.shard_id, sequence_number)

    def _backoff(self, retries: int) -> float:
        return float(min(self.max_retry_delay, self.retry_delay * 2**retries))

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        """Deliver one batch until every record succeeded or was discarded (_Stopped if stopped).

        The segments stay in stream order (a retry or the halves of a split go to the front), so once
        the front one is handled every record up to its last one is: the checkpoint moves there."""
        segments: deque[_Segment] = deque([_Segment(self._fresh(shard, batch))])
        while segments:
            if self._stop.is_set():
                raise _Stopped()
            segment = segments.popleft()
            if not segment.records:
                continue
            invocation = self._call(segment)
            failed_from = self._failed_from(segment, invocation)
            if failed_from is None:
                self.stats.records_delivered += len(segment.records)
                self._checkpoint(shard, segment.records[-1])
                continue
            if isinstance(failed_from, str):  # the whole batch failed
                if self.trigger.bisect_on_error and len(segment.records) > 1:
                    half = len(segment.records) // 2
                    # Splitting does not use up the retry quota.
                    segments.appendleft(
                        _Segment(segment.records[half:], segment.retries, segment.invocations)
                    )
                    segments.appendleft(
                        _Segment(segment.records[:half], segment.retries, segment.invocations)
                    )
                    continue
                remaining = segment.records
            else:
                done = [r for r in segment.records if _seq(r) < failed_from]
                self.stats.records_delivered += len(done)
                if done:
                    self._checkpoint(shard, done[-1])
                remaining = [r for r in segment.records if _seq(r) >= failed_from]
            if segment.retries >= self.trigger.maximum_retry_attempts:
                self._discard(shard, remaining, invocation, "RetryAttemptsExhausted", segment.invocations)
                self._checkpoint(shard, segment.records[-1])
                continue
            self._stop.wait(self._backoff(segment.retries))
            retry = _Segment(self._fresh(shard, remaining), segment.retries + 1, segment.invocations)
            segments.appendleft(retry)

    def _fresh(self, shard: _Shard, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records still young enough; older ones go to the on-failure destination."""
        max_age = self.trigger.maximum_record_age_seconds
        if max_age is None or max_age < 0:
            return records
        now = time.time()
        young: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for record in records:
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            stamp = created.timestamp() if isinstance(created, datetime) else float(created or now)
            (old if now - stamp > max_age else young).append(record)
        if old:
            self._discard(shard, old, None, "RecordAgeExceeded", 0)
        return young

    def _call(self, segment: _Segment) -> Invocation:
        event = {"Records": [lambda_record(r, self.stream_arn, self.region) for r in segment.records]}
        segment.invocations += 1
        self.stats.invocations += 1
        return self._invoke(self.trigger.function, event)

    def _failed_from(self, segment: _Segment, invocation: Invocation) -> int | str | None:
        """None: all succeeded; "error": the whole batch failed; else the lowest failed seq."""
        if invocation.errored:
            self._note(f"{self.trigger.function} raised: {invocation.payload}")
            return "error"
        if not self.trigger.report_batch_item_failures:
            return None
        payload = invocation.payload
        failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
        if not failures:
            return None
        in_batch = {r["dynamodb"]["SequenceNumber"] for r in segment.records}
        lowest: int | None = None
        for item in failures:
            ident = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not ident or ident not in in_batch:
                self._note(f"{self.trigger.function} returned an invalid itemIdentifier: {ident!r}")
                return "error"
            lowest = int(ident) if lowest is None else min(lowest, int(ident))
        return lowest

    def _note(self, message: str) -> None:
        self.stats.last_error = message
        self.stats.errors = [*self.stats.errors[-19:], message]
        log.info(message)

    def _discard(
        self,
        shard: _Shard,
        records: Iterable[dict[str, Any]],
        invocation: Invocation | None,
        condition: str,
        invocations: int,
    ) -> None:
        """Send the invocation record of a discarded batch to the on-failure destination, waiting (with
        back-off) while it is unreachable: a record leaves the shard only once it is there."""
        batch = list(records)
        if not batch:
            return
        log.warning(
            "%s: discarding %d record(s) from %s (%s)",
            self.trigger.function,
            len(batch),
            shard.shard_id,
            condition,
        )
        if self._sqs is not None and self._failure_queue is not None:
            body = json.dumps(self.failure_record(shard.shard_id, batch, invocation, condition, invocations))
            self._send_failure(body)
        self.stats.records_discarded += len(batch)

    def _send_failure(self, body: str) -> None:
        tries = 0
        while True:
            try:
                self._sqs.send_message(QueueUrl=self._failure_queue, MessageBody=body)
                return
            except Exception as exc:
                wait = self._backoff(tries)
                self._note(
                    f"{self.trigger.function}: the on-failure destination is unreachable "
                    f"({type(exc).__name__}); the shard waits, trying again in {wait:.2f} s"
                )
            if self._stop.wait(wait):
                raise _Stopped()
            tries += 1

    def failure_record(
        self,
        shard_id: str,
        batch: list[dict[str, Any]],
        invocation: Invocation | None,
        condition: str,
        invocations: int,
    ) -> dict[str, Any]:
        """Lambda's invocation record for a discarded stream batch (on-failure destination)."""

        def arrival(record: dict[str, Any]) -> str:
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            moment = created if isinstance(created, datetime) else datetime.now(UTC)
            return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if invocation is not None and invocation.function_error:
            response["functionError"] = invocation.function_error
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(batch[0]),
                "approximateArrivalOfLastRecord": arrival(batch[-1]),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
