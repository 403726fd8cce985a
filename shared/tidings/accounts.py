"""Connected platform accounts: the account id in the table, the access token in Secrets Manager.

Item `USER#<id> / ACCOUNT#<platform>` holds the account id and the secret's name; the token itself
lives only in the secret `tidings/accounts/<userId>/<platform>`, so it never enters the table, its
stream, logs or API responses.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidings.clock import DEFAULT_CLOCK, Clock, iso_ms
from tidings.config import get_settings
from tidings.platforms import Platform
from tidings.publishing.base import AccountCredentials
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

SECRET_PREFIX = "tidings/accounts/"  # noqa: S105 - a name prefix, not a secret


def secret_name(user_id: str, platform: Platform) -> str:
    return f"{SECRET_PREFIX}{user_id}/{platform}"


class AccountStore:
    """Reads and writes connected accounts. Tokens are cached briefly in memory (a warm function
    publishing many posts must not fetch the same secret for each)."""

    CACHE_SECONDS = 60.0

    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient | None = None,
        secrets: SecretsManagerClient | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.table = table_name
        self.dynamodb = dynamodb or dynamodb_client()
        self._secrets = secrets
        self.clock = clock
        self._cache: dict[tuple[str, Platform], tuple[float, AccountCredentials | None]] = {}
        self._lock = threading.Lock()

    @property
    def secrets(self) -> SecretsManagerClient:
        if self._secrets is None:
            import boto3

            self._secrets = boto3.client("secretsmanager")
        return self._secrets

    def connect(self, user_id: str, platform: Platform, account_id: str, access_token: str) -> None:
        name = secret_name(user_id, platform)
        payload = json.dumps({"accessToken": access_token})
        try:
            self.secrets.create_secret(Name=name, SecretString=payload)
        except self.secrets.exceptions.ResourceExistsException:
            self.secrets.put_secret_value(SecretId=name, SecretString=payload)
        self.dynamodb.put_item(
            TableName=self.table,
            Item=serialize(
                {
                    "PK": keys.user_pk(user_id),
                    "SK": keys.account_sk(platform),
                    "EntityType": keys.ACCOUNT_ENTITY,
                    "user_id": user_id,
                    "platform": str(platform),
                    "account_id": account_id,
                    "secret_name": name,
                    "connected_at": iso_ms(self.clock.now()),
                }
            ),
        )
        with self._lock:
            self._cache.pop((user_id, platform), None)

    def credentials(self, user_id: str, platform: Platform) -> AccountCredentials | None:
        """The account and its token, or None when the user has not connected this platform."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((user_id, platform))
            if cached and now - cached[0] < self.CACHE_SECONDS:
                return cached[1]
        creds = self._load(user_id, platform)
        with self._lock:
            self._cache[(user_id, platform)] = (now, creds)
        return creds

    def _load(self, user_id: str, platform: Platform) -> AccountCredentials | None:
        resp = self.dynamodb.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.account_sk(platform)}),
            ConsistentRead=True,
        )
        if "Item" not in resp:
            return None
        item: dict[str, Any] = deserialize(resp["Item"])
        try:
            secret = self.secrets.get_secret_value(SecretId=item["secret_name"])
        except self.secrets.exceptions.ResourceNotFoundException:
            return None
        token = json.loads(secret["SecretString"])["accessToken"]
        return AccountCredentials(platform=platform, account_id=item["account_id"], access_token=token)

    def connected_platforms(self, user_id: str) -> dict[Platform, datetime | None]:
        resp = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=serialize({":pk": keys.user_pk(user_id), ":prefix": "ACCOUNT#"}),
        )
        out: dict[Platform, datetime | None] = {}
        for raw in resp.get("Items", []):
            item = deserialize(raw)
            out[Platform(item["platform"])] = None
        return out


def connect_account(user_id: str, platform: Platform, account_id: str, access_token: str) -> None:
    """Connect a platform account for a user (used by the local runtime to connect the sample user)."""
    AccountStore(get_settings().table_name).connect(user_id, Platform(platform), account_id, access_token)
