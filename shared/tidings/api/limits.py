"""What every request must be before a route reads it: text in UTF-8, JSON no deeper than
MAX_JSON_DEPTH, and a subject of the documented form. One check for every route, so a new route
module gets them without doing anything.

- A body is UTF-8 (RFC 8259, section 8.1: JSON exchanged between systems is UTF-8), and its JSON
  strings hold no lone surrogate (`"\\ud800"` is valid JSON text but no Unicode string: it could be
  stored, but never encoded again, so every later read of it would fail). Either answers 422
  `invalid_encoding`.
- JSON is at most MAX_JSON_DEPTH arrays and objects deep, counted on the raw text before anything
  parses it (a parser recursing through 1,000 levels fails, and its error is as long as the input).
  DynamoDB stores maps and lists at most 32 levels deep (Amazon DynamoDB Developer Guide, "Service,
  account, and table quotas": nested attribute depth); a request's documents are stored a few
  levels below the item's top, so 20 leaves that margin. Deeper answers 422 `too_deep`.
- A user is a token's `sub`: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or
  digit. A Cognito subject is a UUID, which fits; `tidings dev` names users (`demo-agent`). Anything
  else (a `#` that would reach into another key, a NUL, a kilobyte that no key can hold) is 401.
- A user's requests spend a token bucket of theirs (`tidings.store.throttle`, `throttled`): when it
  is empty the answer is 429 `rate_limited` with `Retry-After`, before the route runs. Routes
  without a token (unsubscribe links, incoming platform webhooks) are not counted per user.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tidings.api.common import error_response
from tidings.core.errors import TidingsError, Unauthorized, ValidationFailed
from tidings.core.users import SUBJECT as SUBJECT

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

    from tidings.store.throttle import RequestThrottle

MAX_JSON_DEPTH = 20

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
# A JSON escape of a UTF-16 surrogate; a pair of them is one character, one alone is none.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def subject_of(claims: dict[str, Any] | None) -> str:
    """The user named by a token's claims; Unauthorized unless its `sub` has the documented form."""
    sub = (claims or {}).get("sub")
    if not sub:
        raise Unauthorized("a bearer token with a subject is required")
    if not isinstance(sub, str) or not SUBJECT.match(sub):
        raise Unauthorized(
            "the token's subject is not a user id Tidings accepts (1 to 64 letters, digits, '.', '_' or '-')",
            {"claim": "sub"},
            code="invalid_subject",
        )
    return sub


def body_problem(event: dict[str, Any]) -> TidingsError | None:
    """Why an HTTP API event's body cannot be read (not UTF-8, a lone surrogate, JSON nested too
    deep), or None when it can."""
    body = event.get("body")
    if not body or not isinstance(body, str):
        return None
    text = _text(body, bool(event.get("isBase64Encoded")))
    if text is None:
        return _invalid_encoding("the request body is not UTF-8 text")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return ValidationFailed(
            f"the request body nests {depth} arrays or objects; at most {MAX_JSON_DEPTH} are accepted",
            {"limit": MAX_JSON_DEPTH, "depth": depth},
            code="too_deep",
        )
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(text):
        return _invalid_encoding("the request body has a lone UTF-16 surrogate (\\ud800 to \\udfff)")
    return None


def json_depth(text: str) -> int:
    """How many arrays and objects a JSON text nests at its deepest (0 for a scalar), counted
    without parsing: brackets outside strings."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _text(body: str, encoded: bool) -> str | None:
    if not encoded:
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        parsed = json.loads(text)
    except ValueError:
        return False  # not JSON: the route answers that
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _invalid_encoding(message: str) -> ValidationFailed:
    return ValidationFailed(message, {"location": ["body"]}, code="invalid_encoding")


def throttled(
    throttle: Callable[[], RequestThrottle],
) -> Callable[[APIGatewayHttpResolver, NextMiddleware], Response[Any]]:
    """A middleware for every route: a request with a user spends one from the user's bucket first,
    and is answered 429 `rate_limited` (`Retry-After`, `details.retryAfterSeconds`) when it is empty."""

    def middleware(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
        sub = ((authorizer.get("jwt") or {}).get("claims") or {}).get("sub")
        if isinstance(sub, str) and SUBJECT.match(sub):
            verdict = throttle().admit(sub)
            if not verdict.allowed:
                wait = verdict.retry_after_seconds
                refused = error_response(
                    429,
                    "rate_limited",
                    f"too many requests: try again in {wait} s",
                    {"retryAfterSeconds": wait},
                )
                refused.headers["Retry-After"] = str(wait)
                return refused
        return next_middleware(app)

    return middleware
