"""A secret's value from AWS Secrets Manager (GetSecretValue: SecretString; boto3 secretsmanager
reference), read once or kept per function instance (`SecretCache`). The client is made on first use,
so a cold start that needs no secret never pays for it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any


def read_secret_string(secret_id: str, client: Any | None = None) -> str:
    """The current value (AWSCURRENT) of the secret named by its ARN or name. Secrets Manager's own
    errors (an unknown secret, access denied) propagate to the caller."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    value = client.get_secret_value(SecretId=secret_id).get("SecretString")
    if not isinstance(value, str) or not value:
        raise ValueError(f"the secret {secret_id} holds no string")
    return value


# Kept as long as the AWS Parameters and Secrets Lambda extension keeps a secret by default (300 s,
# AWS Lambda Developer Guide, "Use Secrets Manager secrets in Lambda functions"): a changed value
# reaches every instance within that time, at one GetSecretValue per instance and period.
SECRET_TTL_SECONDS = 300.0


class SecretCache:
    """Secret values of one function instance, each read from Secrets Manager at most once per
    `ttl_seconds` (the client is made on the first read). Thread-safe: concurrent first reads of a
    secret make one call. A failed read is not kept: the next use asks again."""

    def __init__(
        self,
        client: Callable[[], Any] | None = None,
        *,
        ttl_seconds: float = SECRET_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_client = client or _default_client
        self._client: Any = None
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._values: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def string(self, secret_id: str) -> str:
        """The secret's current string, from the cache while it is fresh."""
        with self._lock:
            kept = self._values.get(secret_id)
            now = self._monotonic()
            if kept is not None and now - kept[0] < self._ttl:
                return kept[1]
            if self._client is None:
                self._client = self._make_client()
            value = read_secret_string(secret_id, self._client)
            self._values[secret_id] = (now, value)
            return value

    def json_object(self, secret_id: str) -> dict[str, Any]:
        """The secret's string read as a JSON object (ValueError when it is not one)."""
        try:
            value = json.loads(self.string(secret_id))
        except ValueError:
            raise ValueError(f"the secret {secret_id} is not JSON") from None
        if not isinstance(value, dict):
            raise ValueError(f"the secret {secret_id} is not a JSON object")
        return value


def _default_client() -> Any:
    import boto3

    return boto3.client("secretsmanager")
