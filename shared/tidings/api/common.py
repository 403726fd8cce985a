"""What every route module of the HTTP API shares: JSON responses, the error body, OpenAPI docs."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from tidings.api.models import ErrorBody
from tidings.core.text import mend

JSON = "application/json"
HTML = "text/html; charset=utf-8"


def json_response(status: int, model: BaseModel | dict[str, Any]) -> Response[str]:
    if not isinstance(model, BaseModel):
        return Response(status_code=status, content_type=JSON, body=json.dumps(model))
    try:
        body = model.model_dump_json(by_alias=True)
    except PydanticSerializationError:
        # Text with a lone surrogate, stored before requests holding one were refused
        # (`tidings.api.limits`): answered with U+FFFD in its place rather than not at all.
        plain = json.dumps(model.model_dump(mode="json", by_alias=True), ensure_ascii=False)
        body = mend(plain)
    return Response(status_code=status, content_type=JSON, body=body)


def wants_json(accept: str | None) -> bool:
    """Whether a request's Accept header asks for JSON rather than a page (JSON named, HTML not)."""
    text = (accept or "").lower()
    return "application/json" in text and "text/html" not in text


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response[str]:
    return json_response(status, ErrorBody(code=code, message=message, details=details or {}))


def doc(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {JSON: {"model": model}}}


ERRORS: dict[int, OpenAPIResponse] = {
    400: doc("Malformed request (e.g. invalid JSON)", ErrorBody),
    401: doc("Missing or invalid bearer token", ErrorBody),
    404: doc("Unknown post or account (or another user's)", ErrorBody),
    409: doc("Conflicts with the queue or the post's state", ErrorBody),
    422: doc("Invalid input", ErrorBody),
    429: doc("A rate limit is used up; details.retryAfterSeconds says when to try again", ErrorBody),
    413: doc("The body (or a template in it) is larger than the route takes", ErrorBody),
    502: doc("A CRM or platform answered wrongly, or refused the stored credentials", ErrorBody),
    503: doc("A CRM stayed unavailable through the retries; details name it; try again later", ErrorBody),
}


def responses(ok: int, description: str, model: type[BaseModel], *errors: int) -> dict[int, OpenAPIResponse]:
    return {ok: doc(description, model), **{e: ERRORS[e] for e in (401, 422, *errors)}}
