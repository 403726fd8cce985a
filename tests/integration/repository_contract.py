"""What the repository contract tests share: each runs the same calls on the in-memory repository and on
the DynamoDB one, the latter against a table of its own in DynamoDB Local (so queries across users, like
the sweeper's and the webhook retry pass's, see only what the test wrote), and expects the same
outcome."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SIDES = ["memory", "dynamodb"]


@dataclass(frozen=True)
class Table:
    client: DynamoDBClient
    name: str


@pytest.fixture(params=SIDES)
def table(request: pytest.FixtureRequest) -> Iterator[Table | None]:
    """None for the in-memory side; for the DynamoDB side, a new table (deleted afterwards) in the
    session's DynamoDB Local. A contract test module takes it with `table = contract_table`."""
    if request.param == "memory":
        yield None
        return
    import boto3

    from infra.local.provision import create_table

    client = boto3.client(
        "dynamodb",
        endpoint_url=request.getfixturevalue("dynamodb_endpoint"),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    name = f"contract-{uuid.uuid4().hex[:10]}"
    create_table(client, name)
    try:
        yield Table(client, name)
    finally:
        client.delete_table(TableName=name)


contract_table = table


def outcome(call: Callable[[], object]) -> str:
    """ "ok", or the name of the error the call raised."""
    try:
        call()
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def user_id() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"


def crafted_tokens(token: str, key: dict[str, str]) -> list[str]:
    """Page tokens nobody issued, for `token`'s list: `key` (a starting key that names an item of it)
    as plain base64 JSON, `token` with one character changed, cut short, and with a character added."""
    plain = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    return [plain, changed, token[:-4], token + "A"]
