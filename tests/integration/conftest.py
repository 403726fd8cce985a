"""Shared integration fixtures: real DynamoDB Local and a real moto server, started once per session.

Fixtures (all session-scoped unless said otherwise):

- `dynamodb_endpoint`: URL of a DynamoDB Local (in memory, shared DB, streams on the same URL).
- `lambda_host`: the lambda host, serving the topology's functions (imported lazily, on their
  first invocation) on 127.0.0.1; tests may `register(name, handler)` small handlers of their own
  (use names unique to the test).
- `moto_endpoint`: URL of a moto server in its own process, Step Functions execution on, with
  Lambda invocations routed to `lambda_host`.
- `local_endpoints`: both as an `infra.local.provision.Endpoints`.
- `local_stack`: the topology provisioned once on them (`LocalStack`: table, queues, functions,
  state machines, schedule group, periodic schedules, and `env` for the handlers).
- `local_aws_env` (function-scoped): puts `local_stack.env` in os.environ for the test and clears
  `tidings.core.config.get_settings`'s cache before and after, so code under test builds its clients
  and settings against the local stack.

Everything started here is stopped at the end of the session; no process outlives it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra.local.dynamodb_local import DynamoDBLocal
from infra.local.lambda_host import LambdaHost
from infra.local.moto_server import MotoServer
from infra.local.provision import Endpoints, LocalStack, provision


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    server = DynamoDBLocal()
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lambda_host() -> Iterator[LambdaHost]:
    host = LambdaHost()
    host.start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def moto_endpoint(lambda_host: LambdaHost) -> Iterator[str]:
    server = MotoServer(lambda_host.url, invoke_secret=lambda_host.secret)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_endpoints(dynamodb_endpoint: str, moto_endpoint: str) -> Endpoints:
    return Endpoints(dynamodb=dynamodb_endpoint, moto=moto_endpoint)


@pytest.fixture(scope="session")
def local_stack(local_endpoints: Endpoints) -> LocalStack:
    return provision(local_endpoints)


def _clear_settings_cache() -> None:
    try:
        from tidings.core.config import get_settings
    except ImportError:  # pragma: no cover - the package is always installed in the venv
        return
    get_settings.cache_clear()


@pytest.fixture
def local_aws_env(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)
    for key, value in local_stack.env.items():
        monkeypatch.setenv(key, value)
    _clear_settings_cache()
    yield dict(local_stack.env)
    _clear_settings_cache()
