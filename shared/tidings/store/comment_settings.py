"""A user's comment settings: `USER#<id> / COMMENT_SETTINGS` (EntityType CommentSettings), one item
per user, written whole (`PUT /comments/settings`: the last write wins). A user who never set
anything has no item and reads the defaults: auto-reply off on every platform, no hiding, replies in
the friendly tone with no brand details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tidings.models.comments import CommentSettings
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CommentSettingsRepository(Protocol):
    def get(self, user_id: str) -> CommentSettings:
        """The user's settings; the defaults when they never set any."""
        ...

    def put(self, settings: CommentSettings) -> CommentSettings:
        """Write the settings over the stored ones; the settings as stored."""
        ...


def settings_to_item(settings: CommentSettings) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(settings.user_id),
        "SK": keys.COMMENT_SETTINGS_SK,
        "EntityType": keys.COMMENT_SETTINGS_ENTITY,
        **settings.model_dump(mode="json", exclude_none=True),
    }


def settings_from_item(user_id: str, item: dict[str, Any] | None) -> CommentSettings:
    if not item:
        return CommentSettings(user_id=user_id)
    fields = set(CommentSettings.model_fields)
    return CommentSettings.model_validate({k: v for k, v in item.items() if k in fields})


class DynamoCommentSettingsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def get(self, user_id: str) -> CommentSettings:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.COMMENT_SETTINGS_SK}),
            ConsistentRead=True,
        )
        return settings_from_item(user_id, deserialize(resp["Item"]) if "Item" in resp else None)

    def put(self, settings: CommentSettings) -> CommentSettings:
        self.client.put_item(TableName=self.table, Item=serialize(settings_to_item(settings)))
        return settings
