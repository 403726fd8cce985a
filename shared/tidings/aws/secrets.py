"""A secret's value from AWS Secrets Manager (GetSecretValue: SecretString; boto3 secretsmanager
reference). The client is made on first use, so a cold start that needs no secret never pays for it."""

from __future__ import annotations

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
