"""HTTP API v2 events for route tests: one request through the API app (`handle`, with its body-size
and path-id guards), answered as (status, JSON body or None when the body is empty)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from tidings.api.app import handle


def call(
    app: APIGatewayHttpResolver,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: str | None = None,
    user: str = "u1",
    path_parameters: dict[str, str] | None = None,
    raw_body: bytes | None = None,
) -> tuple[int, Any]:
    response = respond(app, method, path, query, body, user, path_parameters, raw_body)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def respond(
    app: APIGatewayHttpResolver,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: str | None = None,
    user: str = "u1",
    path_parameters: dict[str, str] | None = None,
    raw_body: bytes | None = None,
) -> dict[str, Any]:
    """The API's whole answer (status, headers, body) to one request."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {"sub": user}, "scopes": None}},
            "requestId": "r1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    if raw_body is not None:  # bytes that are not UTF-8 text arrive base64-encoded
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw_body).decode(), True
    if path_parameters:
        event["pathParameters"] = path_parameters
    return handle(app, event, None)
