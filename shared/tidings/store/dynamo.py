"""A thin DynamoDB adapter: the low-level client, (de)serialisation, page tokens."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from tidings.core.sealing import Sealer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def _dynamo_safe(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_safe(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_dynamo_safe(v)) for k, v in item.items() if v is not None}


def serialize_value(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_dynamo_safe(value)))


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def record_of(record: Mapping[str, Any], *entities: str) -> bool:
    """True when a stream record's new or old image is an item of one of `entities` (EntityType)."""
    images = record.get("dynamodb", {})
    return any(
        images.get(name, {}).get("EntityType", {}).get("S") in entities for name in ("NewImage", "OldImage")
    )


def stream_status(record: Mapping[str, Any], image: str) -> str | None:
    """The `status` of a stream record's `image` ("NewImage" or "OldImage"), read before any parsing."""
    value = record.get("dynamodb", {}).get(image, {}).get("status", {}).get("S")
    return value if isinstance(value, str) else None


def deserialize_stream_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """An item from a Lambda stream record's image: binary attributes arrive there base64-encoded
    (Lambda delivers the record as JSON), so they are decoded before the usual deserialisation."""
    return deserialize({k: _binary_from_json(v) for k, v in image.items()})


def _binary_from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(value.get("B"), str):
            return {"B": base64.b64decode(value["B"])}
        if isinstance(value.get("BS"), list):
            return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in value["BS"]]}
        if isinstance(value.get("M"), dict):
            return {"M": {k: _binary_from_json(v) for k, v in value["M"].items()}}
        if isinstance(value.get("L"), list):
            return {"L": [_binary_from_json(v) for v in value["L"]]}
    return value


# -- page tokens --------------------------------------------------------------------------------
# A list's `nextToken` is the key its query stopped at (LastEvaluatedKey), sealed
# (`tidings.core.sealing`): opaque to the client, unforgeable, and bound to its scope (the partition
# and key prefix it pages, so one user's token, or another list's, opens as nothing for any other).
# DynamoDB answers a starting key of another partition or outside the key condition with a
# ValidationException; a token that opens is always the key of the same query. Anything else is a
# ValueError ("invalid_next_token" to the client).

_PAGE_SALT = b"tidings page tokens v1"
MAX_PAGE_TOKEN_CHARS = 2048
_page_secret: list[Callable[[], str | bytes]] = []
_page_sealer: list[Sealer] = []
_page_lock = threading.Lock()


def use_page_secret(source: Callable[[], str | bytes]) -> None:
    """Seal this process's page tokens with keys from the secret `source` gives (read on first use),
    the deployment's, so a token made by one function instance opens in any other. Until this is
    called, a random key of this process's own is used: tokens then page only within the process
    (what a function that never hands a token out, or a unit test, needs)."""
    with _page_lock:
        _page_secret[:] = [source]
        _page_sealer.clear()


def _sealer() -> Sealer:
    with _page_lock:
        if not _page_sealer:
            secret = _page_secret[0]() if _page_secret else secrets.token_bytes(32)
            _page_sealer.append(Sealer(secret, _PAGE_SALT))
        return _page_sealer[0]


def page_scope(pk: str, sk_prefix: str = "") -> str:
    """What a page token is bound to: the partition a query reads and the key prefix it reads in
    (every paged list's tokens are made and opened with the scope of the list they page)."""
    return f"{pk}\x00{sk_prefix}"


def encode_token(key: Mapping[str, Any] | None, scope: str) -> str | None:
    """The token of the page after `key` (a LastEvaluatedKey) of the query `scope` names."""
    if not key:
        return None
    payload = json.dumps(deserialize(key), separators=(",", ":"), sort_keys=True).encode()
    return _sealer().seal(payload, scope.encode())


def decode_token(token: str | None, scope: str) -> dict[str, Any] | None:
    """The ExclusiveStartKey of a token `encode_token` made for `scope`; ValueError for anything
    else (altered, made for another user or list, or not a token at all)."""
    if not token:
        return None
    payload = _sealer().open(token, scope.encode(), max_chars=MAX_PAGE_TOKEN_CHARS)
    if payload is None:
        raise ValueError("nextToken is not a token this API issued for this list")
    return serialize(json.loads(payload))


def dynamodb_client(max_pool_connections: int = 10) -> DynamoDBClient:
    """A DynamoDB client; `max_pool_connections` (botocore's default is 10) should cover the threads
    that share it, or they wait for a connection and urllib3 logs "Connection pool is full"."""
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", config=Config(max_pool_connections=max_pool_connections))


BATCH_WRITE = 25  # BatchWriteItem takes at most 25 requests


def batch_write(client: DynamoDBClient, table: str, requests: Sequence[Mapping[str, Any]]) -> None:
    """Put and delete requests, 25 to a BatchWriteItem. A batch is not atomic and may answer some
    requests unprocessed (DynamoDB API Reference, BatchWriteItem): those are sent again with back-off,
    and RuntimeError says how many could not be written after 8 tries."""
    for start in range(0, len(requests), BATCH_WRITE):
        pending = [dict(r) for r in requests[start : start + BATCH_WRITE]]
        for attempt in range(8):
            resp = client.batch_write_item(RequestItems={table: pending})  # type: ignore[dict-item]
            pending = [dict(r) for r in resp.get("UnprocessedItems", {}).get(table, [])]
            if not pending:
                break
            time.sleep(min(2.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"{len(pending)} items could not be written to {table}")


def take_count(
    client: DynamoDBClient,
    table: str,
    key: Mapping[str, Any],
    count: int,
    limit: int,
    *,
    entity: str,
    expires_at: int,
) -> bool:
    """Add `count` to the counter item at `key` (attribute `n`), unless that would pass `limit`:
    False, and nothing counted. The item carries `entity` and expires at `expires_at` (TTL)."""
    if count > limit:
        return False
    try:
        client.update_item(
            TableName=table,
            Key=serialize(key),
            UpdateExpression="ADD n :count SET EntityType = :entity, expiresAt = :ttl",
            ConditionExpression="attribute_not_exists(n) OR n <= :most",
            ExpressionAttributeValues=serialize(
                {":count": count, ":most": limit - count, ":entity": entity, ":ttl": expires_at}
            ),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def query_prefix(
    client: DynamoDBClient, table: str, pk: str, sk_prefix: str, *, after: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every item of partition `pk` whose sort key starts with `sk_prefix` (and sorts after `after`,
    when given), in key order, page by page as consumed."""
    start: dict[str, Any] | None = serialize({"PK": pk, "SK": after}) if after else None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": sk_prefix}),
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = client.query(**kwargs)
        for item in resp.get("Items", []):
            yield deserialize(item)
        start = resp.get("LastEvaluatedKey")
        if not start:
            return


def sparse_index_before(
    client: DynamoDBClient,
    table: str,
    partitions: Iterable[str],
    upper: str,
    **query: Any,
) -> Iterator[dict[str, Any]]:
    """Items of the sparse GSI2 partitions, one partition after another, whose GSI2SK sorts before
    `upper`, in key order and page by page (a consumer that stops early reads no further pages).
    `query` adds to each Query (a projection, its names)."""
    for pk in partitions:
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": table,
                "IndexName": "GSI2",
                "KeyConditionExpression": "GSI2PK = :pk AND GSI2SK < :upper",
                "ExpressionAttributeValues": serialize({":pk": pk, ":upper": upper}),
                **query,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = client.query(**kwargs)
            for raw in resp.get("Items", []):
                yield deserialize(raw)
            start = resp.get("LastEvaluatedKey")
            if not start:
                break


def newest_first_page(
    client: DynamoDBClient, table: str, pk: str, sk_prefix: str, limit: int, next_token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of partition `pk`'s items whose sort key starts with `sk_prefix`, last key first, and
    the token of the next page (None at the end). A token this API did not issue is a ValueError."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": serialize({":pk": pk, ":prefix": sk_prefix}),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    scope = page_scope(pk, sk_prefix)
    start = decode_token(next_token, scope)
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = client.query(**kwargs)
    last = resp.get("LastEvaluatedKey")
    return [deserialize(item) for item in resp.get("Items", [])], encode_token(last, scope)
