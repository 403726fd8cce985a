"""The local HTTP API's pure parts: route selection, the payload format 2.0 event, response
mapping, and the request pipeline (`LocalHttpApi.handle`) without a socket."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.api_gateway import (
    JWKS_PATH,
    HttpRequest,
    HttpResponse,
    LocalHttpApi,
    RouteTable,
    bearer_token,
    build_event,
    claim_text,
    map_response,
    request_time,
)
from infra.local.auth import LocalAuth
from infra.topology import ROUTES, Route

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/corpora/lambda-events/powertools"
SAMPLE_EVENT = SAMPLE / "apiGatewayProxyV2Event.json"


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> LocalAuth:
    return LocalAuth(tmp_path_factory.mktemp("state"))


def event_for(
    method: str = "GET",
    target: str = "/items/1",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    route: Route | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    route = route or Route(method, "/items/{itemId}", "fn")
    raw_path, _, raw_query = target.partition("?")
    match = RouteTable([route]).match(method, raw_path)
    assert match is not None
    return build_event(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers or [("Host", "127.0.0.1:3000")],
        body=body,
        match=match,
        request_id="req-1",
        epoch_ms=1583348638390,
        claims=claims,
    )


# --- the event against AWS's own sample ---------------------------------------------------------


def shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def sample_like_event() -> dict[str, Any]:
    """The request the sample event describes, built by the local API."""
    route = Route("POST", "/my/{parameter1}", "fn")
    match = RouteTable([route]).match("POST", "/my/value1")
    assert match is not None
    return build_event(
        method="POST",
        raw_path="/my/value1",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("Header2", "value2"),
            ("Cookie", "cookie1; cookie2"),
            ("Content-Type", "application/json"),
            ("User-Agent", "agent"),
            ("Host", "id.execute-api.us-east-1.amazonaws.com"),
        ],
        body=b'{"message": "hello world", "username": "tom"}',
        match=match,
        request_id="id",
        epoch_ms=1583348638390,
        source_ip="192.168.0.1",
        claims={"claim1": "value1", "claim2": "value2"},
    )


def test_the_event_has_the_keys_and_shapes_of_the_aws_sample() -> None:
    sample = json.loads(SAMPLE_EVENT.read_text())
    event = sample_like_event()

    expected = shape(sample)
    # The sample shows every optional part; a local API without stage variables, mutual TLS or
    # route authorization scopes leaves them out the way AWS does (scopes is then null).
    del expected["stageVariables"]
    del expected["requestContext"]["authentication"]
    expected["requestContext"]["authorizer"]["jwt"]["scopes"] = "NoneType"
    actual = shape(event)
    # Header names are whatever the request sent; only their values' type is part of the shape.
    expected["headers"] = actual["headers"] = "dict[str, str]"

    assert actual == expected
    assert all(isinstance(v, str) for v in event["headers"].values())


def test_the_event_carries_the_sample_values() -> None:
    sample = json.loads(SAMPLE_EVENT.read_text())
    event = sample_like_event()

    for key in ("version", "rawQueryString", "cookies", "queryStringParameters", "body", "pathParameters"):
        assert event[key] == sample[key], key
    assert event["isBase64Encoded"] is False
    assert event["headers"]["header1"] == sample["headers"]["Header1"]
    assert event["headers"]["header2"] == sample["headers"]["Header2"]  # "value1,value2"
    context, sample_context = event["requestContext"], sample["requestContext"]
    for key in ("domainName", "domainPrefix", "stage", "timeEpoch", "requestId"):
        assert context[key] == sample_context[key], key
    assert context["http"]["method"] == "POST"
    assert context["http"]["userAgent"] == "agent"
    assert context["http"]["sourceIp"] == "192.168.0.1"
    assert context["authorizer"]["jwt"]["claims"] == sample_context["authorizer"]["jwt"]["claims"]


def test_route_keys_name_the_matched_route() -> None:
    event = event_for(target="/items/abc")

    assert event["routeKey"] == "GET /items/{itemId}"
    assert event["requestContext"]["routeKey"] == "GET /items/{itemId}"
    assert event["requestContext"]["stage"] == "$default"


def test_request_time_is_in_the_access_log_format() -> None:
    assert request_time(1583348638390) == "04/Mar/2020:19:03:58 +0000"
    assert event_for()["requestContext"]["time"] == "04/Mar/2020:19:03:58 +0000"


# --- headers, cookies, query, path --------------------------------------------------------------


def test_header_names_are_lower_cased_and_repeats_joined_with_commas() -> None:
    event = event_for(headers=[("X-Thing", "a"), ("x-thing", "b"), ("Accept", "text/html")])

    assert event["headers"]["x-thing"] == "a,b"
    assert event["headers"]["accept"] == "text/html"
    assert "X-Thing" not in event["headers"]


def test_cookies_move_from_the_headers_to_the_cookies_list() -> None:
    event = event_for(headers=[("Cookie", "a=1; b=2"), ("Cookie", "c=3")])

    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


def test_the_client_address_is_forwarded() -> None:
    event = event_for(headers=[("X-Forwarded-For", "10.0.0.9")])

    assert event["headers"]["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"


def test_query_parameters_are_decoded_and_repeats_joined_with_commas() -> None:
    event = event_for(target="/items/1?tag=a%20b&tag=c&empty=&plus=x+y")

    assert event["rawQueryString"] == "tag=a%20b&tag=c&empty=&plus=x+y"
    assert event["queryStringParameters"] == {"tag": "a b,c", "empty": "", "plus": "x y"}


def test_path_parameters_are_decoded_and_the_raw_path_is_kept() -> None:
    event = event_for(target="/items/a%20b%2Fc")

    assert event["pathParameters"] == {"itemId": "a b/c"}
    assert event["rawPath"] == "/items/a%20b%2Fc"
    assert event["requestContext"]["http"]["path"] == "/items/a%20b%2Fc"


def test_optional_parts_are_absent_when_the_request_has_none() -> None:
    event = event_for(route=Route("GET", "/items", "fn"), target="/items")

    for key in ("cookies", "queryStringParameters", "pathParameters", "body", "stageVariables"):
        assert key not in event, key
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


# --- bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "text/plain", "text/csv", "application/xml"],
)
def test_text_bodies_arrive_as_text(content_type: str) -> None:
    event = event_for(method="POST", headers=[("Content-Type", content_type)], body="héllo".encode())

    assert event["body"] == "héllo"
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", "application/octet-stream")],
        [("Content-Type", "image/png")],
        [("Content-Type", "application/x-www-form-urlencoded")],
        [],  # no content type at all
        [("Content-Type", "text/plain")],  # claims to be text, is not UTF-8
    ],
)
def test_other_bodies_arrive_base64_encoded(headers: list[tuple[str, str]]) -> None:
    payload = b"\x89PNG\r\n\x1a\n\xff\xfe"

    event = event_for(method="POST", headers=headers or [("Host", "h")], body=payload)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


# --- the authorizer's claims --------------------------------------------------------------------


def test_claims_reach_the_event_as_strings() -> None:
    claims = {"sub": "u1", "exp": 1700000000, "admin": True, "groups": ["a", "b"], "gone": None}

    jwt_context = event_for(claims=claims)["requestContext"]["authorizer"]["jwt"]

    assert jwt_context["claims"] == {"sub": "u1", "exp": "1700000000", "admin": "true", "groups": "[a b]"}
    assert jwt_context["scopes"] is None


def test_claim_text_keeps_nested_objects_as_json() -> None:
    assert claim_text({"k": 1}) == '{"k":1}'
    assert claim_text(1.5) == "1.5"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("abc", "abc"),
        ("Bearer ", None),
        (None, None),
        ("", None),
    ],
)
def test_the_token_may_come_with_or_without_the_bearer_prefix(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


# --- route selection ----------------------------------------------------------------------------

# The example API in the developer guide's http-api-develop-routes page.
DOC_ROUTES = [
    Route("GET", "/pets/dog/1", "static"),
    Route("GET", "/pets/dog/{id}", "variable"),
    Route("GET", "/pets/{proxy+}", "greedy"),
    Route("ANY", "/{proxy+}", "any"),
    Route("GET", "$default", "default"),
]


@pytest.mark.parametrize(
    ("method", "path", "route_key", "params"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
        ("GET", "/", "$default", {}),
    ],
)
def test_routes_are_selected_like_the_documented_example(
    method: str, path: str, route_key: str, params: dict[str, str]
) -> None:
    match = RouteTable(DOC_ROUTES).match(method, path)

    assert match is not None
    assert (match.route_key, match.path_parameters) == (route_key, params)


def test_route_order_in_the_list_does_not_matter() -> None:
    match = RouteTable(list(reversed(DOC_ROUTES))).match("GET", "/pets/dog/1")

    assert match is not None
    assert match.route.function == "static"


@pytest.mark.parametrize(
    ("method", "path", "route_key"),
    [
        ("POST", "/posts/batch", "POST /posts/batch"),
        ("POST", "/posts/publish-now", "POST /posts/publish-now"),
        ("POST", "/posts", "POST /posts"),
        ("GET", "/posts/batch", "GET /posts/{postId}"),
        ("DELETE", "/posts/p-1", "DELETE /posts/{postId}"),
        ("GET", "/posts/", "GET /posts"),
    ],
)
def test_the_project_routes_select_the_most_specific_match(method: str, path: str, route_key: str) -> None:
    match = RouteTable(ROUTES).match(method, path)

    assert match is not None
    assert match.route_key == route_key


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/posts"), ("GET", "/nowhere"), ("GET", "/posts/a/b"), ("GET", "/")]
)
def test_no_route_matches_without_a_default_route(method: str, path: str) -> None:
    assert RouteTable(ROUTES).match(method, path) is None


@pytest.mark.parametrize(
    "routes",
    [
        [Route("GET", "/a/{rest+}/b", "fn")],
        [Route("GET", "/a", "fn"), Route("GET", "/a", "other")],
    ],
)
def test_invalid_route_sets_are_refused(routes: list[Route]) -> None:
    with pytest.raises(ValueError, match=r"greedy|duplicate"):
        RouteTable(routes)


# --- response mapping ---------------------------------------------------------------------------


def test_a_structured_result_sets_status_headers_cookies_and_body() -> None:
    response = map_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Count": 3},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": '{"ok": true}',
        }
    )

    assert response.status == 201
    assert response.header("content-type") == "application/json"
    assert response.header("x-count") == "3"
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1; Path=/", "b=2"]
    assert response.body == b'{"ok": true}'


def test_a_base64_result_body_is_decoded() -> None:
    payload = bytes(range(256))

    response = map_response(
        {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(payload).decode()}
    )

    assert response.body == payload


def test_a_structured_result_without_body_has_an_empty_body() -> None:
    response = map_response({"statusCode": 204})

    assert (response.status, response.body) == (204, b"")


def test_framing_headers_from_the_function_are_not_passed_on() -> None:
    response = map_response({"statusCode": 200, "headers": {"Content-Length": "999"}, "body": "hi"})

    assert response.header("content-length") is None
    assert response.body == b"hi"


def test_multi_value_headers_are_not_part_of_format_2() -> None:
    response = map_response({"statusCode": 200, "multiValueHeaders": {"x-a": ["1", "2"]}, "body": ""})

    assert response.header("x-a") is None


@pytest.mark.parametrize(
    ("result", "body"),
    [
        ({"message": "Hello from Lambda!"}, b'{"message": "Hello from Lambda!"}'),
        ("Hello from Lambda!", b"Hello from Lambda!"),
        ([1, 2], b"[1, 2]"),
        (7, b"7"),
        (None, b"null"),
    ],
)
def test_a_result_without_status_code_is_inferred(result: object, body: bytes) -> None:
    response = map_response(result)

    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.body == body


@pytest.mark.parametrize(
    "result",
    [
        {"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []},
        {"statusCode": "200", "body": "x"},
        {"statusCode": True, "body": "x"},
        {"statusCode": 999, "body": "x"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
        {"statusCode": 200, "cookies": [1]},
        {"data": object()},
    ],
)
def test_function_errors_and_malformed_results_are_500(result: object) -> None:
    response = map_response(result)

    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}


# --- the pipeline without a socket --------------------------------------------------------------


class Recorder:
    def __init__(self, result: object = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.result = {"statusCode": 200, "body": "ok"} if result is None else result
        self.error = error

    def __call__(self, name: str, event: dict[str, Any]) -> object:
        self.calls.append((name, event))
        if self.error is not None:
            raise self.error
        return self.result


def api_with(auth: LocalAuth, invoke: Recorder, **kwargs: Any) -> LocalHttpApi:
    return LocalHttpApi(ROUTES, invoke, auth, **kwargs)


def get(api: LocalHttpApi, target: str, token: str | None = None) -> HttpResponse:
    headers = [("Host", "127.0.0.1:3000")]
    if token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    return api.handle(HttpRequest("GET", target, headers))


def test_an_authorized_route_without_a_token_is_401_and_the_function_never_runs(auth: LocalAuth) -> None:
    invoke = Recorder()

    response = get(api_with(auth, invoke), "/posts")

    assert response.status == 401
    assert json.loads(response.body) == {"message": "Unauthorized"}
    assert response.header("www-authenticate") == "Bearer"
    assert invoke.calls == []


def test_a_bad_token_is_401_with_the_reason_in_www_authenticate(auth: LocalAuth) -> None:
    invoke = Recorder()
    token = auth.issue_token("u1", extra_claims={"aud": "elsewhere", "client_id": "elsewhere"})

    response = get(api_with(auth, invoke), "/posts", token)

    assert response.status == 401
    assert response.header("www-authenticate") == (
        'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"'
    )
    assert invoke.calls == []


def test_a_good_token_reaches_the_function_with_its_claims(auth: LocalAuth) -> None:
    invoke = Recorder()

    response = get(api_with(auth, invoke), "/posts/p-9?x=1", auth.issue_token("user-5"))

    assert response.status == 200
    ((name, event),) = invoke.calls
    assert name == "http_api"
    assert event["routeKey"] == "GET /posts/{postId}"
    assert event["pathParameters"] == {"postId": "p-9"}
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "user-5"
    assert response.header("apigw-requestid") == event["requestContext"]["requestId"]


def test_a_public_route_needs_no_token_and_gets_no_authorizer(auth: LocalAuth) -> None:
    invoke = Recorder()

    response = get(api_with(auth, invoke), "/openapi.json")

    assert response.status == 200
    ((_, event),) = invoke.calls
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize(("method", "target"), [("GET", "/nowhere"), ("PUT", "/posts")])
def test_no_matching_route_is_404_before_any_token_check(auth: LocalAuth, method: str, target: str) -> None:
    invoke = Recorder()

    response = api_with(auth, invoke).handle(HttpRequest(method, target))

    assert response.status == 404
    assert json.loads(response.body) == {"message": "Not Found"}
    assert invoke.calls == []


def test_a_raising_function_is_500(auth: LocalAuth) -> None:
    invoke = Recorder(error=RuntimeError("boom"))

    response = get(api_with(auth, invoke), "/openapi.json")

    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}


def test_a_function_error_payload_is_500(auth: LocalAuth) -> None:
    invoke = Recorder(result={"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []})

    response = get(api_with(auth, invoke), "/openapi.json")

    assert response.status == 500


def test_a_body_over_the_payload_limit_is_413(auth: LocalAuth) -> None:
    invoke = Recorder()
    api = api_with(auth, invoke, max_payload_bytes=10)
    token = auth.issue_token("u1")
    headers = [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")]

    too_big = api.handle(HttpRequest("POST", "/posts", headers, b"x" * 11))
    at_limit = api.handle(HttpRequest("POST", "/posts", headers, b"x" * 10))

    assert too_big.status == 413
    assert at_limit.status == 200
    assert len(invoke.calls) == 1


def test_the_jwks_is_served_without_a_token(auth: LocalAuth) -> None:
    response = get(api_with(auth, Recorder()), JWKS_PATH)

    assert response.status == 200
    assert json.loads(response.body) == auth.jwks()


@pytest.mark.parametrize(
    "bad_id",
    ["x" * 129, "Ṱ̺̺o͞ invoke", "a/b", "", "post id", "%00"],
)
def test_a_path_id_that_cannot_name_anything_is_404_before_any_lookup(bad_id: str) -> None:
    from tidings.api.app import build_app, handle

    def no_service() -> Any:
        raise AssertionError("nothing may be looked up")

    event = {
        "version": "2.0",
        "routeKey": "GET /posts/{postId}",
        "rawPath": "/posts/x",
        "rawQueryString": "",
        "headers": {},
        "pathParameters": {"postId": bad_id},
        "requestContext": {
            "http": {"method": "GET", "path": "/posts/x", "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {"sub": "u1"}, "scopes": None}},
            "requestId": "r1",
            "routeKey": "GET /posts/{postId}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    response = handle(build_app(no_service), event, None)

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["code"] == "not_found"
