"""The local HTTP API: API Gateway's HTTP API (payload format 2.0) in front of the same handlers.

Requests are routed with the topology's routes, authorized like the JWT authorizer, turned into
the format 2.0 event a Lambda integration receives, and the function's result is mapped back
to an HTTP response with the format 2.0 rules. The pure parts (`RouteTable`, `build_event`,
`map_response`, `LocalHttpApi.handle`) work without a socket; `LocalHttpApi.start` puts them
behind the local HTTP server the fakes run on (`infra.local.fakes.base`).

Sources for the behaviour (API Gateway developer guide unless said otherwise):
- http-api-develop-routes: route selection and `{"message":"Not Found"}`.
- http-api-develop-integrations-lambda: the 2.0 event, the response format and its inference.
- http-api-jwt-authorizer and http-api-troubleshooting-jwt: the token checks and the 401 answer.
- http-api-quotas: the 10 MB payload size.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.local.auth import InvalidTokenError, LocalAuth
from infra.local.fakes.base import LocalHttpServer, Reply, Request
from infra.topology import Route

log = logging.getLogger("tidings.local.api")

# http-api-quotas: "Payload size | 10 MB".
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
JWKS_PATH = "/.well-known/jwks.json"
DEFAULT_ROUTE = "$default"
DEFAULT_STAGE = "$default"
ANY_METHOD = "ANY"
DEFAULT_API_ID = "local"
DEFAULT_ACCOUNT_ID = "123456789012"

Invoke = Callable[[str, dict[str, Any]], object]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # the request target as received: raw path, then `?` and the raw query string
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


def gateway_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """An answer API Gateway gives itself: a JSON body `{"message": ...}`."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json"), *headers], body)


def not_found() -> HttpResponse:
    return gateway_response(404, "Not Found")


def internal_error() -> HttpResponse:
    return gateway_response(500, "Internal Server Error")


def payload_too_large() -> HttpResponse:
    return gateway_response(413, "Request Entity Too Large", [("connection", "close")])


# --- routes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    route_key: str
    path_parameters: dict[str, str]


def route_key(route: Route) -> str:
    return DEFAULT_ROUTE if route.path == DEFAULT_ROUTE else f"{route.method.upper()} {route.path}"


def _segments(path: str) -> list[str]:
    """`/a/b` -> [a, b]; `/` -> []. One trailing slash does not count."""
    path = path[1:] if path.startswith("/") else path
    if path.endswith("/"):
        path = path[:-1]
    return path.split("/") if path else []


class _CompiledRoute:
    __slots__ = ("greedy", "key", "method", "parts", "rank", "route")

    def __init__(self, route: Route) -> None:
        self.route = route
        self.key = route_key(route)
        self.method = route.method.upper()
        self.parts: list[tuple[bool, str]] = []  # (is_parameter, name or literal)
        self.greedy: str | None = None
        method_rank = 1 if self.method == ANY_METHOD else 0
        if route.path == DEFAULT_ROUTE:
            self.rank: tuple[int, ...] = (2,)
            return
        segments = _segments(route.path)
        for index, segment in enumerate(segments):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if name.endswith("+"):
                    if index != len(segments) - 1:
                        raise ValueError(f"{self.key}: a greedy path variable must end the path")
                    self.greedy = name[:-1]
                else:
                    self.parts.append((True, name))
            else:
                self.parts.append((False, segment))
        # http-api-develop-routes: the most specific match wins. Full matches first (a literal
        # segment beats a variable, left to right; a method beats ANY), then greedy {proxy+}
        # routes (a longer prefix first), then $default.
        flags = tuple(1 if is_param else 0 for is_param, _ in self.parts)
        if self.greedy is None:
            self.rank = (0, *flags, method_rank)
        else:
            self.rank = (1, -len(self.parts), *flags, method_rank)

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        if self.key == DEFAULT_ROUTE:
            return {}
        if self.method not in (method, ANY_METHOD):
            return None
        fixed = len(self.parts)
        if self.greedy is None:
            if len(segments) != fixed:
                return None
        elif len(segments) <= fixed:
            return None
        params: dict[str, str] = {}
        for (is_param, name), segment in zip(self.parts, segments, strict=False):
            # "API Gateway decodes URL-encoded request parameters" (http-api-develop-routes).
            value = unquote(segment)
            if is_param:
                if not value:
                    return None
                params[name] = value
            elif value != name:
                return None
        if self.greedy is not None:
            params[self.greedy] = unquote("/".join(segments[fixed:]))
        return params


class RouteTable:
    """Selects the route for a request the way an HTTP API does."""

    def __init__(self, routes: Sequence[Route]) -> None:
        compiled = [_CompiledRoute(route) for route in routes]
        keys = [c.key for c in compiled]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate routes: {', '.join(duplicates)}")
        # The rank depends only on the route, so the first route that matches is the best one.
        self._routes = sorted(compiled, key=lambda c: c.rank)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        segments = _segments(raw_path)
        method = method.upper()
        for candidate in self._routes:
            params = candidate.match(method, segments)
            if params is not None:
                return RouteMatch(candidate.route, candidate.key, params)
        return None


# --- authorizer ---------------------------------------------------------------------------------


def bearer_token(authorization: str | None) -> str | None:
    """The token in an Authorization header value; it may carry the `Bearer ` prefix or not
    (http-api-jwt-authorizer: "The identitySource can include only the token, or the token
    prefixed with Bearer")."""
    if authorization is None:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


def unauthorized(error: InvalidTokenError | None) -> HttpResponse:
    """The JWT authorizer's refusal. With a bad token the header reads like the one in
    http-api-troubleshooting-jwt; without a token it names the scheme only (RFC 6750, 3.1)."""
    if error is None:
        challenge = "Bearer"
    else:
        challenge = f'Bearer scope="" error="invalid_token" error_description="{error.description}"'
    return gateway_response(401, "Unauthorized", [("www-authenticate", challenge)])


def claim_text(value: Any) -> str | None:
    """A claim as the authorizer hands it to the integration: every value is a string, arrays in
    brackets separated by spaces, null claims left out (measured on AWS; see floci-io/floci#2011
    and the captured event in DefinitelyTyped/DefinitelyTyped#75458)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + " ".join(claim_text(item) or "" for item in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def authorizer_context(claims: Mapping[str, Any]) -> dict[str, Any]:
    texts = {name: claim_text(value) for name, value in claims.items()}
    # Tidings' routes set no authorization scopes, and then AWS sends "scopes": null
    # (DefinitelyTyped/DefinitelyTyped#75458).
    return {"jwt": {"claims": {k: v for k, v in texts.items() if v is not None}, "scopes": None}}


# --- the event ----------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Measured on AWS (ministackorg/ministack#766): only these arrive as text; every other content
# type, and a body without one, arrives base64-encoded with isBase64Encoded true.
_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


def request_time(epoch_ms: int) -> str:
    """`12/Mar/2020:19:03:58 +0000`, the format of requestContext.time."""
    t = time.gmtime(epoch_ms / 1000)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def new_request_id() -> str:
    """An id shaped like API Gateway's (`Mc7UVioPPHcEKPA=`)."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def is_text_content_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_TYPES


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    match: RouteMatch,
    request_id: str,
    epoch_ms: int,
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
    claims: Mapping[str, Any] | None = None,
    api_id: str = DEFAULT_API_ID,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """The payload format 2.0 event for one request (http-api-develop-integrations-lambda)."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            # Cookie headers go to `cookies`, one entry per cookie, not to `headers`.
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # "Duplicate headers are combined with commas and included in the headers field."
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    forwarded = merged.get("x-forwarded-for")
    merged["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    merged["x-forwarded-proto"] = "http"

    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        # "Duplicate query strings are combined with commas".
        query[key] = f"{query[key]},{value}" if key in query else value

    domain = merged.get("host", "")
    context: dict[str, Any] = {"accountId": account_id, "apiId": api_id}
    if claims is not None:
        context["authorizer"] = authorizer_context(claims)
    context.update(
        {
            "domainName": domain,
            "domainPrefix": domain.split(":", 1)[0].split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": match.route_key,
            "stage": DEFAULT_STAGE,
            "time": request_time(epoch_ms),
            "timeEpoch": epoch_ms,
        }
    )

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = merged
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = context
    encoded = False
    if body:
        text: str | None = None
        if is_text_content_type(merged.get("content-type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            text = base64.b64encode(body).decode("ascii")
            encoded = True
        event["body"] = text
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    event["isBase64Encoded"] = encoded
    # No stage variables are defined, and then the event has no stageVariables key.
    return event


# --- the response -------------------------------------------------------------------------------

# Framing is the server's business, not the function's.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


def is_function_error(result: object) -> bool:
    """A Lambda error payload (`errorMessage`/`errorType`), what a failed invocation returns."""
    return (
        isinstance(result, dict)
        and "statusCode" not in result
        and "errorMessage" in result
        and "errorType" in result
    )


def _header_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _structured_response(result: Mapping[str, Any]) -> HttpResponse | None:
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return None
    raw_headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    body = result.get("body")
    encoded = result.get("isBase64Encoded", False)
    if not isinstance(raw_headers, dict) or not isinstance(cookies, list) or not isinstance(encoded, bool):
        return None
    headers: list[tuple[str, str]] = []
    for name, value in raw_headers.items():
        text = _header_text(value)
        if text is None:
            return None
        if str(name).lower() not in _HOP_BY_HOP:
            headers.append((str(name), text))
    for cookie in cookies:
        if not isinstance(cookie, str):
            return None
        # "In the response to the client, each cookie becomes a set-cookie header."
        headers.append(("set-cookie", cookie))
    # The 2.0 response format has no multiValueHeaders; like API Gateway, ignore it.
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        return None
    elif encoded:
        try:
            payload = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        payload = body.encode("utf-8")
    return HttpResponse(status, headers, payload)


def map_response(result: object) -> HttpResponse:
    """The HTTP response API Gateway makes of a function's result (format 2.0)."""
    return _map_result(result)[0]


def _map_result(result: object) -> tuple[HttpResponse, str | None]:
    """The response, and what was wrong with the result when it is a function error."""
    if is_function_error(result):
        return internal_error(), "the function failed"
    try:
        # What Lambda itself does with the result; what it cannot serialize fails the call.
        as_json = json.dumps(result)
    except (TypeError, ValueError):
        return internal_error(), "the function returned a value that is not JSON"
    if isinstance(result, dict) and "statusCode" in result:
        response = _structured_response(result)
        if response is None:
            return internal_error(), "the function returned a malformed response"
        return response, None
    # Valid JSON without a statusCode: status 200, content-type application/json, the result as
    # the body (a string result is the body itself), not base64.
    body = result if isinstance(result, str) else as_json
    return HttpResponse(200, [("content-type", "application/json")], body.encode("utf-8")), None


# --- the API ------------------------------------------------------------------------------------


def _first_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


class LocalHttpApi(LocalHttpServer):
    """The HTTP API on one machine: routes, JWT authorizer and Lambda proxy integrations.

    `invoke(function_name, event)` runs one function and returns its result; it is called from
    the server's request threads, possibly at the same time. A raised exception, or a returned
    Lambda error payload, is a function error (500).
    """

    name = "local HTTP API"
    thread_name = "local-http-api"
    software = "tidings-local-api"

    def __init__(
        self,
        routes: Sequence[Route],
        invoke: Invoke,
        auth: LocalAuth,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        api_id: str = DEFAULT_API_ID,
        account_id: str = DEFAULT_ACCOUNT_ID,
        site: Callable[[HttpRequest, str], HttpResponse | None] | None = None,
    ) -> None:
        super().__init__(host, port)
        # What this origin serves besides the API (the dashboard): asked first, None passes.
        self.site = site
        self._table = RouteTable(routes)
        self._invoke = invoke
        self._auth = auth
        # A body over the limit is read and dropped (so the client sees the 413 rather than a
        # reset), up to four times the limit; past it the connection is simply closed.
        self.max_body_bytes = max_payload_bytes
        self.api_id = api_id
        self.account_id = account_id
        self._jwks_body = json.dumps(auth.jwks(), separators=(",", ":")).encode()

    # The request pipeline, without a socket.
    def handle(self, request: HttpRequest) -> HttpResponse:
        raw_path, _, raw_query = request.target.partition("?")
        if not raw_path.startswith("/"):  # absolute-form target (a proxy-style request line)
            parts = urlsplit(request.target)
            raw_path, raw_query = parts.path or "/", parts.query
        if self.max_body_bytes is not None and len(request.body) > self.max_body_bytes:
            return payload_too_large()
        if request.method == "GET" and raw_path == JWKS_PATH:
            return HttpResponse(200, [("content-type", "application/json")], self._jwks_body)
        if self.site is not None and (answer := self.site(request, raw_path)) is not None:
            return answer
        match = self._table.match(request.method, raw_path)
        if match is None:
            return not_found()
        claims: dict[str, Any] | None = None
        if match.route.authorized:
            token = bearer_token(_first_header(request.headers, "authorization"))
            if token is None:
                return unauthorized(None)
            try:
                claims = self._auth.verify(token)
            except InvalidTokenError as error:
                return unauthorized(error)
        request_id = new_request_id()
        event = build_event(
            method=request.method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=request.headers,
            body=request.body,
            match=match,
            request_id=request_id,
            epoch_ms=time.time_ns() // 1_000_000,
            source_ip=request.source_ip,
            protocol=request.protocol,
            claims=claims,
            api_id=self.api_id,
            account_id=self.account_id,
        )
        try:
            result = self._invoke(match.route.function, event)
        except Exception:
            log.exception("function %s failed on %s", match.route.function, match.route_key)
            response = internal_error()
        else:
            response, problem = _map_result(result)
            if problem is not None:
                log.error("%s on %s: %s: %.500r", problem, match.route_key, match.route.function, result)
        response.headers.append(("apigw-requestid", request_id))
        return response

    # On the server: each request goes through `handle`.
    def respond(self, request: Request) -> Reply:
        return _reply(
            self.handle(
                HttpRequest(
                    method=request.method,
                    target=request.target,
                    headers=request.headers.items(),
                    body=request.body,
                    source_ip=request.client_ip,
                    protocol=request.protocol,
                )
            )
        )

    def body_too_large(self) -> Reply:
        return _reply(payload_too_large())

    def bad_request(self) -> Reply:
        return _reply(gateway_response(400, "Bad Request", [("connection", "close")]))

    def crashed(self, request: Request, exc: Exception) -> Reply:
        log.error("local HTTP API failed on %s %s", request.method, request.path, exc_info=exc)
        return _reply(internal_error())

    def answered(self, method: str, target: str, status: int | None, elapsed_ms: float) -> None:
        """One line per request, logged before the answer goes out (so it is there once the
        client has the answer)."""
        log.info("%s %s %s %.1fms", method, target.split("?", 1)[0], status, elapsed_ms)


def _reply(response: HttpResponse) -> Reply:
    """An HttpResponse as the server writes it: its headers as they are, repeats included."""
    return Reply(response.status, response.body, header_list=list(response.headers))
