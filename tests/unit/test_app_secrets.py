"""App-level secrets (OAuth client secrets, the Meta app secret, CRM keys): on AWS read from the
deployment's Secrets Manager secret (moto here) and kept per instance for a while; locally, with no
secret named, the environment's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tidings.aws.secrets import SECRET_TTL_SECONDS, SecretCache
from tidings.core.config import Settings, get_settings


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """The Secrets Manager client, counting GetSecretValue calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.get_secret_value(**kwargs)


def test_a_secret_is_read_once_per_period_and_a_changed_value_is_seen_after_it(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="app", SecretString='{"meta_app_secret": "one"}')["ARN"]
    client, clock = Counting(secretsmanager), Clock()
    cache = SecretCache(lambda: client, monotonic=clock)

    assert cache.json_object(arn) == {"meta_app_secret": "one"}
    secretsmanager.put_secret_value(SecretId=arn, SecretString='{"meta_app_secret": "two"}')
    clock.now += SECRET_TTL_SECONDS - 1
    assert cache.json_object(arn) == {"meta_app_secret": "one"}  # kept
    assert client.calls == 1
    clock.now += 1
    assert cache.json_object(arn) == {"meta_app_secret": "two"}  # the period is over: read again
    assert client.calls == 2


def test_a_secret_that_is_not_a_json_object_is_an_error_naming_it(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name="plain", SecretString="hunter2")["ARN"]

    with pytest.raises(ValueError, match="is not JSON") as caught:
        SecretCache(lambda: secretsmanager).json_object(arn)
    assert "hunter2" not in str(caught.value)


def test_the_secrets_values_replace_the_environments_and_an_unknown_key_is_refused() -> None:
    env = Settings(linkedin_client_id="li", linkedin_client_secret="from-env", meta_app_secret="env-meta")

    merged = env.with_app_secrets({"linkedin_client_secret": "from-secret", "meta_app_secret": ""})

    assert merged.linkedin_client_secret == "from-secret"
    assert merged.meta_app_secret == "env-meta"  # an empty value keeps the environment's
    assert merged.linkedin_client_id == "li"
    with pytest.raises(ValueError, match="linkedin_secret"):
        env.with_app_secrets({"linkedin_secret": "typo"})


def test_the_functions_take_the_app_secrets_from_secrets_manager_when_the_stack_names_one(
    secretsmanager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tidings import wiring

    values = {"tiktok_client_secret": "sm-tiktok", "meta_app_secret": "sm-meta"}
    arn = secretsmanager.create_secret(Name="tidings-app", SecretString=json.dumps(values))["ARN"]
    monkeypatch.setenv("TIDINGS_TIKTOK_CLIENT_SECRET", "env-tiktok")
    monkeypatch.setenv("TIDINGS_APP_SECRETS_ARN", arn)
    get_settings.cache_clear()
    wiring._secrets.cache_clear()
    try:
        on_aws = wiring.app_settings()
        monkeypatch.delenv("TIDINGS_APP_SECRETS_ARN")
        get_settings.cache_clear()
        local = wiring.app_settings()
    finally:
        get_settings.cache_clear()
        wiring._secrets.cache_clear()

    assert (on_aws.tiktok_client_secret, on_aws.meta_app_secret) == ("sm-tiktok", "sm-meta")
    assert (local.tiktok_client_secret, local.meta_app_secret) == ("env-tiktok", "")
