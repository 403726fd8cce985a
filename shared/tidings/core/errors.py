"""Domain errors. Each carries a machine-readable code, an HTTP status and details;
the API maps them to `{code, message, details}` in one place."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

_E = TypeVar("_E", bound=Enum)


class TidingsError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        if code:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(TidingsError):
    status = 422
    code = "validation_error"


class NotFound(TidingsError):
    status = 404
    code = "not_found"


class Conflict(TidingsError):
    status = 409
    code = "conflict"


class Unauthorized(TidingsError):
    status = 401
    code = "unauthorized"


class PayloadTooLarge(TidingsError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(TidingsError):
    status = 429
    code = "rate_limited"


class UpstreamFailed(TidingsError):
    """A platform failed or could not be reached: not the caller's fault."""

    status = 502
    code = "platform_unavailable"


class Forbidden(TidingsError):
    status = 403
    code = "forbidden"


class ServiceUnavailable(TidingsError):
    """A service Tidings calls (a CRM) stayed unavailable through every retry: not the caller's
    fault, and worth trying again later (`details.retryAfterSeconds` when the service said when)."""

    status = 503
    code = "service_unavailable"


def choice(kind: type[_E], value: str, *, field: str, code: str) -> _E:
    """`value` as a member of `kind`, or ValidationFailed naming the field and the supported values."""
    try:
        return kind(value)
    except ValueError:
        raise ValidationFailed(
            f"unknown {field}: {value!r}",
            {"field": field, "supported": [m.value for m in kind]},
            code=code,
        ) from None
