"""What the local runtime keeps across restarts: DynamoDB Local's database (`-dbPath`), the stream
consumers' positions on its stream, and the credentials key moto's KMS is started with."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_aws import RecordingFunction, wait_for

from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.lambda_host import LambdaHost
from infra.local.moto_server import MotoServer
from infra.local.provision import Endpoints, _create_credentials_key, client, create_table, open_table
from infra.local.state import CHECKPOINTS_FILE, credentials_key
from infra.local.stream_checkpoints import CheckpointStore
from infra.local.stream_poller import StreamPoller
from infra.topology import StreamTrigger
from tidings.aws.vault import CredentialVault

pytestmark = pytest.mark.timeout(180)

TABLE = "tidings-durable"
SINK = StreamTrigger(function="durable_sink", entity_types=())


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Any]:
    """Start (and restart) DynamoDB Local on one database directory; everything is stopped after."""
    started: list[DynamoDBLocal] = []

    def start() -> DynamoDBLocal:
        server = DynamoDBLocal(db_path=tmp_path / "dynamodb")
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _names(sink: RecordingFunction) -> list[str]:
    with sink.lock:
        return [r["dynamodb"]["NewImage"]["SK"]["S"] for batch in sink.batches for r in batch]


def _poll(
    endpoint: str,
    stream_arn: str,
    store: CheckpointStore,
    sink: RecordingFunction,
    trigger: StreamTrigger = SINK,
) -> StreamPoller:
    endpoints = Endpoints(dynamodb=endpoint, moto=endpoint)
    host = LambdaHost(functions=())
    host.register(trigger.function, sink)
    poller = StreamPoller(
        trigger,
        stream_arn,
        host.invoke,
        client("dynamodbstreams", endpoints),
        poll_interval=0.05,
        positions=store.consumer(trigger.function),
    )
    poller.start()
    return poller


@pytest.mark.parametrize("stop", ["stop", "kill"])
def test_the_table_and_the_stream_position_outlive_dynamodb_local(
    database: Any, tmp_path: Path, stop: str
) -> None:
    # Given a table on a database directory, and a stream consumer that read its first three records
    server = database()
    ddb = client("dynamodb", Endpoints(dynamodb=server.endpoint, moto=server.endpoint))
    _, stream_arn = create_table(ddb, TABLE)

    def put(name: str) -> None:
        ddb.put_item(TableName=TABLE, Item={"PK": {"S": "USER#u1"}, "SK": {"S": name}})

    for name in ("a", "b", "c"):
        put(name)
    positions = tmp_path / CHECKPOINTS_FILE
    store = CheckpointStore(positions, stream_arn)
    first = RecordingFunction()
    poller = _poll(server.endpoint, stream_arn, store, first)
    assert wait_for(lambda: _names(first) == ["a", "b", "c"])
    assert wait_for(lambda: (store.save(), positions.exists())[1])
    poller.stop()
    store.save()

    # When DynamoDB Local stops (cleanly, or killed) and starts again on the same directory
    if stop == "kill":
        assert server.pid is not None
        os.killpg(server.pid, signal.SIGKILL)
    server.stop()
    server = database()
    ddb = client("dynamodb", Endpoints(dynamodb=server.endpoint, moto=server.endpoint))

    # Then the table is there with its items and the same stream
    opened = open_table(ddb, TABLE)
    assert opened is not None
    assert opened[1] == stream_arn
    assert ddb.scan(TableName=TABLE)["Count"] == 3

    # And a consumer resuming from the saved positions gets only what is new, once
    put("d")
    again = RecordingFunction()
    poller = _poll(server.endpoint, stream_arn, CheckpointStore(positions, stream_arn), again)
    try:
        assert wait_for(lambda: _names(again) == ["d"])
        put("e")
        assert wait_for(lambda: _names(again) == ["d", "e"])
    finally:
        poller.stop()


@pytest.mark.parametrize("when", ["during an invocation", "between batches", "within the batching window"])
def test_after_a_clean_stop_no_record_handled_before_it_is_delivered_again(
    database: Any, tmp_path: Path, when: str
) -> None:
    # Given a consumer stopped cleanly right after handling records: while its function runs, between
    # two batches of one page, or while it gathers records for its batching window
    server = database()
    ddb = client("dynamodb", Endpoints(dynamodb=server.endpoint, moto=server.endpoint))
    _, stream_arn = create_table(ddb, TABLE)

    def put(name: str) -> None:
        ddb.put_item(TableName=TABLE, Item={"PK": {"S": "USER#u1"}, "SK": {"S": name}})

    for name in ("a", "b", "c"):
        put(name)
    trigger = SINK
    stop_in = "c"
    if when == "between batches":
        trigger = StreamTrigger(function="durable_sink", entity_types=(), batch_size=1)
        stop_in = "b"
    elif when == "within the batching window":
        trigger = StreamTrigger(function="durable_sink", entity_types=(), max_batching_window_seconds=5)
        stop_in = ""
    positions = tmp_path / CHECKPOINTS_FILE
    store = CheckpointStore(positions, stream_arn)
    first = RecordingFunction()
    poller: list[StreamPoller] = []
    stopping: list[threading.Thread] = []

    def respond(records: list[dict[str, Any]]) -> None:
        if stop_in and records[-1]["dynamodb"]["NewImage"]["SK"]["S"] == stop_in:
            # the stack is stopped while this invocation runs (Ctrl-C): it ends, then the poller stops
            # started before it is listed: the test may join it as soon as it is listed
            stop = threading.Thread(target=poller[0].stop)
            stop.start()
            stopping.append(stop)
            time.sleep(0.5)

    first.respond = respond
    poller.append(_poll(server.endpoint, stream_arn, store, first, trigger))
    handled = ["a", "b"] if when == "between batches" else ["a", "b", "c"]
    assert wait_for(lambda: _names(first) == handled)
    if stop_in:
        assert wait_for(lambda: bool(stopping))  # the record is listed before its invocation stops
        stopping[0].join(timeout=30)
    poller[0].stop()
    store.save()
    time.sleep(0.5)
    assert _names(first) == handled

    # When DynamoDB Local stops cleanly and starts again, and a consumer resumes from the saved positions
    server.stop()
    server = database()
    ddb = client("dynamodb", Endpoints(dynamodb=server.endpoint, moto=server.endpoint))
    put("d")
    again = RecordingFunction()
    resumed = _poll(server.endpoint, stream_arn, CheckpointStore(positions, stream_arn), again, trigger)
    try:
        # Then it gets what it had not handled, and nothing it had
        expected = ["c", "d"] if when == "between batches" else ["d"]
        assert wait_for(lambda: _names(again) == expected, 15), _names(again)
        time.sleep(1)
        assert _names(again) == expected
    finally:
        resumed.stop()


def test_a_consumer_of_a_new_table_starts_from_its_first_record(database: Any, tmp_path: Path) -> None:
    # Given positions saved for another stream (a table made anew by --fresh)
    server = database()
    ddb = client("dynamodb", Endpoints(dynamodb=server.endpoint, moto=server.endpoint))
    _, stream_arn = create_table(ddb, TABLE)
    positions = tmp_path / CHECKPOINTS_FILE
    old = CheckpointStore(positions, "arn:aws:dynamodb:ddblocal:000000000000:table/x/stream/old")
    old.handled("durable_sink", "shardId-anything", "000000000000000000009")
    old.save()
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "USER#u1"}, "SK": {"S": "first"}})

    # When a consumer starts on the new stream
    sink = RecordingFunction()
    poller = _poll(server.endpoint, stream_arn, CheckpointStore(positions, stream_arn), sink)
    try:
        # Then it reads the new stream from its start
        assert wait_for(lambda: _names(sink) == ["first"])
    finally:
        poller.stop()


def test_credentials_sealed_before_a_restart_of_moto_open_after_it(tmp_path: Path) -> None:
    # Given moto started with the state directory's credentials key, and a secret sealed under it
    key_file = credentials_key(tmp_path)
    host = LambdaHost(functions=())
    host.start()
    servers: list[MotoServer] = []

    def kms() -> Any:
        server = MotoServer(host.url, invoke_secret=host.secret, credentials_key=key_file)
        server.start()
        servers.append(server)
        return client("kms", Endpoints(dynamodb=server.url, moto=server.url))

    try:
        first = kms()
        key_arn = _create_credentials_key(first)
        sealed = CredentialVault(key_arn, first).seal("u1", "facebook", {"access_token": "secret-1"})
        servers[0].stop()

        # When moto starts again with the same key file
        second = kms()

        # Then provisioning finds the same key, and the secret opens
        assert _create_credentials_key(second) == key_arn
        assert CredentialVault(key_arn, second).open("u1", "facebook", sealed) == {"access_token": "secret-1"}
        # and the key file is the owner's alone
        assert key_file.stat().st_mode & 0o777 == 0o600
    finally:
        for server in servers:
            server.stop()
        host.stop()


def _non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than 127.x (the one a route to the outside would use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_dynamodb_local_answers_on_the_loopback_address_only(database: Any) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    # Given DynamoDB Local as the runtime starts it
    server = database()

    # Then it answers on 127.0.0.1 and refuses a connection on the machine's other address
    with socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
    with pytest.raises(ConnectionRefusedError), socket.create_connection((address, server.port), timeout=2):
        pass
