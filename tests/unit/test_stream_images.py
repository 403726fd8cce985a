"""Stream records reach functions as JSON, with binary attributes base64-encoded; every consumer
reads images through one helper that decodes them (an integration's sealed secret is binary)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from infra.local.stream_poller import _jsonable
from tidings.integrations.schedule_keeper import IntegrationScheduleKeeper
from tidings.models.integrations import Integration
from tidings.store.dynamo import deserialize_stream_image, serialize
from tidings.store.integrations import to_item

SEALED = {
    "cred_kms_key": "arn:aws:kms:us-east-1:123456789012:key/abc",
    "cred_wrapped_key": b"\x01\x02wrapped",
    "cred_nonce": b"\x00" * 12,
    "cred_ciphertext": b"\xffcipher",
    "cred_format": 1,
}


def _as_lambda_delivers(item: dict[str, Any]) -> dict[str, Any]:
    low_level = serialize(item)
    return json.loads(json.dumps(_jsonable(low_level)))


def test_binary_attributes_come_back_as_bytes() -> None:
    image = _as_lambda_delivers(
        {"PK": "USER#u", "nested": {"blob": b"\x00\x01"}, "list": [b"\x02"], **SEALED}
    )

    item = deserialize_stream_image(image)

    assert item["cred_wrapped_key"] == b"\x01\x02wrapped"
    assert item["nested"]["blob"] == b"\x00\x01"
    assert item["list"] == [b"\x02"]
    assert item["cred_format"] == 1


class Recorder:
    def __init__(self) -> None:
        self.upserts: list[str] = []

    def upsert(self, integration: Integration) -> None:
        self.upserts.append(integration.integration_id)

    def delete(self, user_id: str, integration_id: str) -> None:
        raise AssertionError("nothing to delete")


def test_an_integration_with_a_sealed_secret_gets_its_schedule() -> None:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    integration = Integration(
        user_id="u1",
        integration_id="int_1",
        name="CRM",
        type="crm",
        provider="hubspot",
        status="connected",
        created_at=now,
        updated_at=now,
        sync_enabled=True,
    )
    record = {"dynamodb": {"NewImage": _as_lambda_delivers(to_item(integration) | SEALED)}}
    recorder = Recorder()

    IntegrationScheduleKeeper(recorder).apply(record, [])
    assert recorder.upserts == ["int_1"]
