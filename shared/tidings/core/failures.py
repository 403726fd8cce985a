"""How a call to a platform or vendor failed: the one vocabulary the clients, the HTTP helpers and
the publish step share (retry it, wait for the limit, renew the token, give up, or read back first)."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """How a platform failure is treated: the publish step's one vocabulary for errors."""

    RETRYABLE = "retryable"
    RATE_LIMITED = "rate_limited"
    AUTH_EXPIRED = "auth_expired"
    PERMANENT = "permanent"
    UNKNOWN_OUTCOME = "unknown_outcome"

    @property
    def retry_possible(self) -> bool:
        return self in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED, ErrorKind.UNKNOWN_OUTCOME)


class PlatformCallError(Exception):
    """A classified platform failure. `retry_after` is in seconds when the platform said."""

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.status = status
