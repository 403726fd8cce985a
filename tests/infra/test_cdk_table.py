"""The table: keys, indexes, stream, recovery, TTL, encryption and retention, as the design says."""

from __future__ import annotations

from cfn import Template, by_path, only, ref

from infra.topology import TABLE


def test_table_keys_and_indexes_follow_the_topology(template: Template) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    props = table["Properties"]

    assert props["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        name: "S" for name in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")
    }
    indexes = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index.name for index in TABLE.indexes} == {"GSI1", "GSI2", "GSI3"}
    for spec in TABLE.indexes:
        assert indexes[spec.name]["KeySchema"] == [
            {"AttributeName": spec.partition_key, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
        ]
        assert indexes[spec.name]["Projection"] == {"ProjectionType": "ALL"}


def test_table_is_on_demand_streamed_recoverable_and_expires_items(template: Template) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    props = table["Properties"]

    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_table_is_encrypted_with_its_own_rotated_key_and_both_outlive_the_stack(template: Template) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    key_id, key = by_path(template, "Table/Key/Resource")

    sse = table["Properties"]["SSESpecification"]
    assert sse["SSEEnabled"] is True
    assert sse["SSEType"] == "KMS"
    assert ref(sse["KMSMasterKeyId"]) == key_id
    assert key["Properties"]["EnableKeyRotation"] is True
    for resource in (table, key):
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
