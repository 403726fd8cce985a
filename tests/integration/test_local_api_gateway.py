"""The local HTTP API on loopback, driven by a real HTTP client, with tiny functions behind it."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from infra.local.api_gateway import MAX_PAYLOAD_BYTES, LocalHttpApi
from infra.local.auth import AUDIENCE, ISSUER, LocalAuth
from infra.topology import Route

ROUTES = (
    Route("GET", "/items/{itemId}", "echo"),
    Route("POST", "/items", "echo"),
    Route("GET", "/public", "echo", authorized=False),
    Route("POST", "/size", "size", authorized=False),
    Route("GET", "/image", "image", authorized=False),
    Route("GET", "/boom", "boom", authorized=False),
    Route("GET", "/error-payload", "error_payload", authorized=False),
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def invoke(name: str, event: dict[str, Any]) -> object:
    if name == "echo":
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
    if name == "size":
        body = event.get("body") or ""
        raw = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
        return {"length": len(raw)}
    if name == "image":
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "isBase64Encoded": True,
            "body": base64.b64encode(PNG).decode(),
        }
    if name == "error_payload":
        return {"errorMessage": "nope", "errorType": "ValueError", "stackTrace": []}
    raise RuntimeError(f"{name} failed")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def auth(state_dir: Path) -> LocalAuth:
    return LocalAuth(state_dir)


@pytest.fixture(scope="module")
def api(auth: LocalAuth) -> Iterator[LocalHttpApi]:
    with LocalHttpApi(ROUTES, invoke, auth) as running:
        yield running


@pytest.fixture
def client(api: LocalHttpApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as http:
        yield http


@pytest.fixture
def token(auth: LocalAuth) -> str:
    return auth.issue_token("user-1")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_a_token_an_authorized_route_is_401(client: httpx.Client) -> None:
    response = client.get("/items/1")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_from_another_issuer_key_is_401(client: httpx.Client, tmp_path: Path) -> None:
    stranger = LocalAuth(tmp_path).issue_token("user-1")

    response = client.get("/items/1", headers=bearer(stranger))

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_an_expired_token_is_401(client: httpx.Client, auth: LocalAuth) -> None:
    expired = auth.issue_token("user-1", extra_claims={"exp": 1})

    response = client.get("/items/1", headers=bearer(expired))

    assert response.status_code == 401
    assert "expired" in response.headers["www-authenticate"]


def test_a_good_token_reaches_the_function_with_path_and_query(client: httpx.Client, token: str) -> None:
    response = client.get("/items/a%20b?tag=x&tag=y&q=caf%C3%A9", headers=bearer(token))

    assert response.status_code == 200
    event = response.json()
    assert event["routeKey"] == "GET /items/{itemId}"
    assert event["rawPath"] == "/items/a%20b"
    assert event["pathParameters"] == {"itemId": "a b"}
    assert event["rawQueryString"] == "tag=x&tag=y&q=caf%C3%A9"
    assert event["queryStringParameters"] == {"tag": "x,y", "q": "café"}
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "user-1"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["host"] == event["requestContext"]["domainName"]
    assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"]


def test_a_json_body_arrives_as_text(client: httpx.Client, token: str) -> None:
    response = client.post("/items", headers=bearer(token), json={"content": "hello"})

    event = response.json()
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"content": "hello"}


def test_a_binary_body_arrives_base64_encoded(client: httpx.Client, token: str) -> None:
    headers = {**bearer(token), "Content-Type": "application/octet-stream"}

    response = client.post("/items", headers=headers, content=PNG)

    event = response.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG


def test_a_chunked_body_is_read_whole(client: httpx.Client) -> None:
    parts = [b"a" * 1000, b"b" * 2345, b"c"]

    response = client.post("/size", content=iter(parts), headers={"Content-Type": "text/plain"})

    assert response.status_code == 200
    assert response.json() == {"length": 3346}


def test_a_base64_response_reaches_the_client_as_bytes(client: httpx.Client) -> None:
    response = client.get("/image")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG


def test_an_unknown_path_is_404(client: httpx.Client, token: str) -> None:
    response = client.get("/nowhere", headers=bearer(token))

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_a_body_over_the_payload_limit_is_413(client: httpx.Client) -> None:
    response = client.post("/size", content=b"x" * (MAX_PAYLOAD_BYTES + 1))

    assert response.status_code == 413


def test_a_body_at_the_payload_limit_is_accepted(client: httpx.Client) -> None:
    response = client.post("/size", content=b"x" * MAX_PAYLOAD_BYTES, headers={"Content-Type": "text/plain"})

    assert response.status_code == 200
    assert response.json() == {"length": MAX_PAYLOAD_BYTES}


@pytest.mark.parametrize("path", ["/boom", "/error-payload"])
def test_a_failing_function_is_500(client: httpx.Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_the_server_keeps_serving_after_errors(client: httpx.Client) -> None:
    assert client.get("/boom").status_code == 500
    assert client.post("/size", content=b"x" * (MAX_PAYLOAD_BYTES + 1)).status_code == 413

    assert client.get("/public").status_code == 200


def test_the_jwks_endpoint_lets_a_standard_client_verify_tokens(api: LocalHttpApi, token: str) -> None:
    signing_key = jwt.PyJWKClient(f"{api.url}/.well-known/jwks.json").get_signing_key_from_jwt(token)

    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    assert claims["sub"] == "user-1"


def test_each_request_is_logged_on_one_line(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tidings.local.api"):
        client.get("/public?secret=1")

    lines = [r.getMessage() for r in caplog.records if r.name == "tidings.local.api"]
    assert len(lines) == 1
    method, path, status, elapsed = lines[0].split(" ")
    assert (method, path, status) == ("GET", "/public", "200")
    assert elapsed.endswith("ms")


def test_a_stopped_api_no_longer_answers(auth: LocalAuth) -> None:
    api = LocalHttpApi(ROUTES, invoke, auth)
    api.start()
    url = api.url
    assert httpx.get(f"{url}/public").status_code == 200

    api.stop()

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/public")
