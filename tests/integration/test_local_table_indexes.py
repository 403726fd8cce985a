"""A local table left by an older run gets the indexes the topology added since (the reply index,
GSI3), so `tidings dev` on an existing state directory reads what the code asks of it."""

from __future__ import annotations

import uuid
from dataclasses import replace

import boto3
import pytest

from infra.local import provision
from infra.topology import TABLE


def test_an_existing_table_gets_the_indexes_it_lacks(
    dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    name = f"older-{uuid.uuid4().hex[:10]}"
    # Given a table made before the reply index existed
    older = replace(TABLE, indexes=tuple(i for i in TABLE.indexes if i.name != "GSI3"))
    monkeypatch.setattr(provision, "TABLE", older)
    provision.create_table(ddb, name)
    monkeypatch.setattr(provision, "TABLE", TABLE)
    try:
        # When the local runtime opens it again
        opened = provision.open_table(ddb, name)

        # Then every index of the topology is there and answers
        assert opened is not None
        indexes = ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
        assert {i["IndexName"] for i in indexes} == {i.name for i in TABLE.indexes}
        found = ddb.query(
            TableName=name,
            IndexName="GSI3",
            KeyConditionExpression="GSI3PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "REPLY_DUE#0"}},
        )
        assert found["Count"] == 0
        assert provision.open_table(ddb, name) == opened  # nothing more to add
    finally:
        ddb.delete_table(TableName=name)
