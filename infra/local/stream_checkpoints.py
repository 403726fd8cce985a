"""Where each stream consumer left off, kept across restarts of `tidings dev`.

DynamoDB Local with `-dbPath` keeps the table's stream: after a restart (clean or `kill -9`) the
stream has the same ARN and shards and still holds every record of the last 24 hours. A poller that
started each run at TRIM_HORIZON would deliver all of them again; one that started at LATEST would
skip what arrived while it was not reading. Lambda keeps an event source mapping's position on the
AWS side; locally `CheckpointedStreams` does, for one poller:

- it wraps the poller's DynamoDB Streams client (describe_stream, get_shard_iterator, get_records);
- a record batch counts as handled once the poller asks for the next one on the same shard (the
  poller reads a shard, delivers what it read, then reads on), or when it asks for an iterator
  AFTER_SEQUENCE_NUMBER (its own checkpoint); a batch read when the stack stops is not counted, so
  it is delivered again on the next start (at least once, as Lambda does);
- a TRIM_HORIZON iterator asked for a shard with a saved position becomes AFTER_SEQUENCE_NUMBER that
  position (TRIM_HORIZON again if the record was trimmed meanwhile).

`CheckpointStore` holds every poller's positions for one stream ARN in
`<state-dir>/stream-checkpoints.json`; `tidings dev` saves it every second and on stop, so a
`kill -9` delivers at most the last second's records again. Positions of another stream (a table
made anew) are ignored.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.local.state import read_json, write_json


class CheckpointStore:
    """Every consumer's handled position per shard of one stream, loaded from and saved to `path`."""

    def __init__(self, path: Path, stream_arn: str) -> None:
        self.path = path
        self.stream_arn = stream_arn
        self._lock = threading.Lock()
        self._dirty = False
        data = read_json(path)
        saved = (
            data.get("consumers", {})
            if isinstance(data, dict) and data.get("streamArn") == stream_arn
            else {}
        )
        self._positions: dict[str, dict[str, str]] = {
            str(consumer): {str(shard): str(seq) for shard, seq in shards.items()}
            for consumer, shards in saved.items()
            if isinstance(shards, dict)
        }

    def position(self, consumer: str, shard_id: str) -> str | None:
        with self._lock:
            return self._positions.get(consumer, {}).get(shard_id)

    def handled(self, consumer: str, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            shards = self._positions.setdefault(consumer, {})
            current = shards.get(shard_id)
            if current is None or int(sequence_number) > int(current):
                shards[shard_id] = sequence_number
                self._dirty = True

    def save(self) -> None:
        """Write the positions if they changed since the last save."""
        with self._lock:
            if not self._dirty:
                return
            data = {
                "streamArn": self.stream_arn,
                "consumers": {k: dict(v) for k, v in self._positions.items()},
            }
            self._dirty = False
        write_json(self.path, data)

    def streams(self, client: Any, consumer: str) -> CheckpointedStreams:
        return CheckpointedStreams(client, self, consumer)


class CheckpointedStreams:
    """A DynamoDB Streams client for one consumer that resumes from, and records, its position."""

    def __init__(self, client: Any, store: CheckpointStore, consumer: str) -> None:
        self._client = client
        self._store = store
        self._consumer = consumer
        self._lock = threading.Lock()
        # iterator -> (shard, last sequence number of the batch it follows, not yet handled)
        self._iterators: dict[str, tuple[str, str | None]] = {}

    def describe_stream(self, **kwargs: Any) -> Any:
        return self._client.describe_stream(**kwargs)

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        shard_id = str(kwargs["ShardId"])
        if kwargs.get("ShardIteratorType") == "AFTER_SEQUENCE_NUMBER":
            self._store.handled(self._consumer, shard_id, str(kwargs["SequenceNumber"]))
        saved = self._store.position(self._consumer, shard_id)
        resp = None
        if kwargs.get("ShardIteratorType") == "TRIM_HORIZON" and saved is not None:
            resumed = {**kwargs, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": saved}
            try:
                resp = self._client.get_shard_iterator(**resumed)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TrimmedDataAccessException":
                    raise
        if resp is None:
            resp = self._client.get_shard_iterator(**kwargs)
        self._remember(resp.get("ShardIterator"), shard_id, None)
        return resp

    def get_records(self, **kwargs: Any) -> Any:
        iterator = str(kwargs["ShardIterator"])
        with self._lock:
            shard_id, pending = self._iterators.pop(iterator, (None, None))
        if shard_id is not None and pending is not None:
            self._store.handled(self._consumer, shard_id, pending)  # the poller read on: it is done
        resp = self._client.get_records(**kwargs)
        if shard_id is not None:
            records = resp.get("Records") or []
            last = records[-1]["dynamodb"]["SequenceNumber"] if records else None
            self._remember(resp.get("NextShardIterator"), shard_id, last)
        return resp

    def _remember(self, iterator: str | None, shard_id: str, pending: str | None) -> None:
        if iterator:
            with self._lock:
                self._iterators[iterator] = (shard_id, pending)
