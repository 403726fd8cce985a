"""Direct messages to a contact over WhatsApp, through the user's connected WhatsApp Business number.

Free-form text reaches a contact only inside the 24-hour customer service window (opened each time
the contact writes); outside it, WhatsApp refuses text (error 131047) and only an approved template
may be sent. So: send the text; when the window is closed, send the template the caller gave, or say
that one is needed. A message is sent at most once: nothing here retries on its own, and an unknown
outcome is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tidings.core.errors import Conflict, NotFound, TooManyRequests, UpstreamFailed, ValidationFailed
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import WHATSAPP
from tidings.models.accounts import AccountCredentials

OUTSIDE_WINDOW = "outside_customer_service_window"


class CredentialSource(Protocol):
    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None: ...


class WhatsAppSender(Protocol):
    def send_text(
        self, account: AccountCredentials, to: str, text: str, *, preview_url: bool = False
    ) -> Any: ...
    def send_template(
        self,
        account: AccountCredentials,
        to: str,
        name: str,
        language: str,
        components: list[dict[str, Any]] | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    components: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class MessageSent:
    message_id: str
    to: str
    kind: str  # text | template
    fell_back_to_template: bool


class MessagingService:
    def __init__(self, accounts: CredentialSource, whatsapp: Callable[[], WhatsAppSender]) -> None:
        self.accounts = accounts
        self.whatsapp = whatsapp

    def send_whatsapp(
        self, user_id: str, to: str, text: str | None, template: Template | None
    ) -> MessageSent:
        if text is None and template is None:
            raise ValidationFailed(
                "send text, a template, or both", {"fields": ["text", "template"]}, code="empty_message"
            )
        try:
            account = self.accounts.credentials(user_id, WHATSAPP)
        except PlatformCallError as exc:
            raise _as_api_error(exc) from None
        if account is None:
            raise NotFound(
                "no WhatsApp number is connected: connect one (POST /accounts, platform whatsapp)",
                {"platform": WHATSAPP},
                code="account_not_connected",
            )
        client = self.whatsapp()
        if text is not None:
            try:
                sent = client.send_text(account, to, text)
                return MessageSent(sent.message_id, sent.to, "text", False)
            except PlatformCallError as exc:
                if exc.code != OUTSIDE_WINDOW or template is None:
                    raise _as_api_error(exc) from None
        assert template is not None
        try:
            sent = client.send_template(account, to, template.name, template.language, template.components)
        except PlatformCallError as exc:
            raise _as_api_error(exc) from None
        return MessageSent(sent.message_id, sent.to, "template", text is not None)


def _as_api_error(exc: PlatformCallError) -> Exception:
    details: dict[str, Any] = {"platform": WHATSAPP, "kind": str(exc.kind), "platformCode": exc.code}
    if exc.code == OUTSIDE_WINDOW:
        return Conflict(exc.message, details, code=OUTSIDE_WINDOW)
    if exc.code in ("text_too_long", "invalid_recipient", "empty_text", "invalid_template"):
        return ValidationFailed(exc.message, details, code=exc.code)
    if exc.kind == ErrorKind.RATE_LIMITED:
        return TooManyRequests(exc.message, {**details, "retryAfterSeconds": exc.retry_after})
    if exc.kind == ErrorKind.AUTH_EXPIRED:
        return Conflict(exc.message, details, code="account_auth_expired")
    if exc.kind == ErrorKind.PERMANENT:
        return ValidationFailed(exc.message, details, code="platform_refused")
    if exc.kind == ErrorKind.UNKNOWN_OUTCOME:
        return UpstreamFailed(
            f"{exc.message}; the message may have been delivered, so it was not sent again",
            details,
            code="outcome_unknown",
        )
    return UpstreamFailed(exc.message, details)
