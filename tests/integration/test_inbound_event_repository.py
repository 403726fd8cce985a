"""The inbound event store on DynamoDB Local: a full Meta delivery is written side by side, each
distinct entry once, and the same delivery again writes nothing new."""

from __future__ import annotations

from datetime import UTC, datetime

from local_aws import fresh_table

from tidings.integrations.inbound import MAX_ENTRIES
from tidings.store.inbound import DynamoInboundEventRepository

NOW = datetime(2026, 9, 21, 12, 0, tzinfo=UTC)


def test_a_full_delivery_is_stored_once_per_entry(dynamodb_endpoint: str) -> None:
    entries = [{"id": str(1000 + n % 600), "time": 1790000000, "changes": []} for n in range(MAX_ENTRIES)]
    with fresh_table(dynamodb_endpoint) as (client, table):
        repo = DynamoInboundEventRepository(table, client)
        assert repo.add("meta", "page", entries, NOW) == 600
        assert repo.add("meta", "page", entries, NOW) == 0
        stored = client.scan(TableName=table, Select="COUNT")["Count"]
        assert stored == 600
