"""Where each stream consumer left off, kept across restarts of `tidings dev`.

DynamoDB Local with `-dbPath` keeps the table's stream: after a restart (clean or `kill -9`) the
stream has the same ARN and shards and still holds every record of the last 24 hours. A poller that
started each run at TRIM_HORIZON would deliver all of them again; one that started at LATEST would
skip what arrived while it was not reading. Lambda keeps an event source mapping's position on the
AWS side; locally `CheckpointStore` does, for every poller of the stream:

- the poller (infra/local/stream_poller.py) tells its consumer's `ConsumerPositions` the last
  sequence number it handled on a shard each time its checkpoint moves: after each batch delivered
  (or discarded to the on-failure destination), and past the records its filter skipped. A record is
  counted as handled as soon as its function returned, not once the poller reads on, so a stop right
  after an invocation, between two batches of a page, or while records are gathered for a batching
  window loses no position;
- a poller that meets a shard takes its saved position as its checkpoint and reads the shard
  AFTER_SEQUENCE_NUMBER that position (from TRIM_HORIZON when the shard has no saved position, or
  when the saved record was trimmed meanwhile: then every record left is after it).

Positions are kept per shard id. DynamoDB Local (the 2026-05-28 build) keeps a table's stream shard
across a restart of its JVM, clean or `kill -9`: same shard id, same sequence numbers, new records
carrying on after the last. Should it close a shard and open a child (its ShardRolloverJob, for a
shard 4 hours old), the child holds only records written after the parent closed: with no saved
position it is read from TRIM_HORIZON, once its parent was read to the end.

The store holds every poller's positions for one stream ARN in `<state-dir>/stream-checkpoints.json`;
`tidings dev` saves it every second and once more after the pollers stopped, so a clean stop delivers
nothing handled again and a `kill -9` at most what was handled in the last second before it. Positions
of another stream (a table made anew) are ignored.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from infra.local.state import read_json, write_json


class CheckpointStore:
    """Every consumer's handled position per shard of one stream, loaded from and saved to `path`."""

    def __init__(self, path: Path, stream_arn: str) -> None:
        self.path = path
        self.stream_arn = stream_arn
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # one save at a time: a later snapshot is never overwritten
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
        with self._save_lock:
            with self._lock:
                if not self._dirty:
                    return
                data = {
                    "streamArn": self.stream_arn,
                    "consumers": {k: dict(v) for k, v in self._positions.items()},
                }
                self._dirty = False
            try:
                write_json(self.path, data)
            except OSError:
                with self._lock:
                    self._dirty = True  # written by the next save
                raise

    def consumer(self, consumer: str) -> ConsumerPositions:
        """The positions of one consumer (one poller), as the poller reads and moves them."""
        return ConsumerPositions(self, consumer)


@dataclass(frozen=True)
class ConsumerPositions:
    """One consumer's view of the store: `position` of a shard, `handled` up to a sequence number."""

    store: CheckpointStore
    consumer: str

    def position(self, shard_id: str) -> str | None:
        return self.store.position(self.consumer, shard_id)

    def handled(self, shard_id: str, sequence_number: str) -> None:
        self.store.handled(self.consumer, shard_id, sequence_number)
