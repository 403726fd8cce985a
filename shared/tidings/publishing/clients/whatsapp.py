"""WhatsApp Business messages through the Cloud API, with a system-user access token.

Sources (developers.facebook.com, WhatsApp Business Platform): the Cloud API "Messages" reference
(`POST /{phone-number-id}/messages` with JSON {"messaging_product": "whatsapp", "recipient_type":
"individual", "to", "type": "text", "text": {"body", "preview_url"}} or "type": "template",
"template": {"name", "language": {"code"}, "components"}; it answers {"messaging_product",
"contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}); text messages carry at most
4,096 characters; a free-form message reaches a customer only within 24 hours of their last message
(the customer service window), after that only an approved template does. Errors are Graph API error
bodies whose `error_data.details` says what went wrong (see the code table below).

WhatsApp is a messaging channel, not a post platform: this client is not built by `build_client`.
`AccountCredentials.account_id` is the business phone-number id, `access_token` the system-user token,
which travels only in the Authorization header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import bearer, call_error, json_body, send
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients.graph import graph_int, graph_retry_after

MAX_TEXT = 4096  # characters in a text message body

# Source: developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
OUTSIDE_WINDOW = 131047  # Re-engagement message: more than 24 hours since the customer last replied
# Throttles, with how long to wait when the answer carries no Retry-After.
THROTTLE_WAIT: dict[int, float] = {
    4: 300.0,  # API Too Many Calls: the app's call rate limit
    80007: 300.0,  # Rate limit issues: the WhatsApp Business Account's rate limit
    130429: 60.0,  # Rate limit hit: Cloud API message throughput reached
    131048: 900.0,  # Spam rate limit hit: this phone number is restricted for its quality
    131056: 60.0,  # (Business Account, Consumer Account) pair rate limit hit: too many to one recipient
}
DEFAULT_THROTTLE_WAIT = 60.0
AUTH_CODES = frozenset({0, 102, 190})  # AuthException, API Session, Access token has expired
# Invalid parameter, Message undeliverable, and the template errors 132000-132015.
PERMANENT_CODES = frozenset({100, 131026, *range(132000, 132016)})
# API Unknown, API Service, Something went wrong, Service unavailable.
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})

_SEPARATORS = re.compile(r"[\s-]+")
_INTERNATIONAL = re.compile(r"[1-9][0-9]{6,14}")  # E.164: a country code, at most 15 digits


@dataclass(frozen=True)
class SentMessage:
    """A message the Cloud API accepted: its wamid, the recipient's WhatsApp id, when it was sent."""

    message_id: str
    to: str
    sent_at: datetime


class WhatsAppClient:
    def __init__(self, settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK) -> None:
        self.base = settings.whatsapp_api_base.rstrip("/")
        self.http = http
        self.clock = clock

    def __repr__(self) -> str:
        return f"WhatsAppClient(base={self.base!r})"

    def send_text(
        self, account: AccountCredentials, to: str, text: str, *, preview_url: bool = False
    ) -> SentMessage:
        """A free-form text message: delivered only inside the customer service window."""
        recipient = recipient_id(to, token=account.access_token)
        if not text:
            raise call_error(ErrorKind.PERMANENT, "empty_text", "a text message needs a body", token=None)
        if len(text) > MAX_TEXT:
            raise call_error(
                ErrorKind.PERMANENT,
                "text_too_long",
                f"a WhatsApp text message carries at most {MAX_TEXT} characters, this one has {len(text)}",
                token=None,
            )
        return self._send(
            account,
            recipient,
            {"type": "text", "text": {"body": text, "preview_url": preview_url}},
        )

    def send_template(
        self,
        account: AccountCredentials,
        to: str,
        name: str,
        language: str,
        components: list[dict[str, Any]] | None = None,
    ) -> SentMessage:
        """An approved message template, which reaches the customer whenever they last wrote."""
        recipient = recipient_id(to, token=account.access_token)
        if not name.strip() or not language.strip():
            raise call_error(
                ErrorKind.PERMANENT,
                "invalid_template",
                "a template message needs the template's name and language code",
                token=None,
            )
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components is not None:
            template["components"] = components
        return self._send(account, recipient, {"type": "template", "template": template})

    def _send(self, account: AccountCredentials, recipient: str, content: dict[str, Any]) -> SentMessage:
        url = f"{self.base}/{quote(account.account_id, safe='')}/messages"
        token = account.access_token
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            **content,
        }
        response = send(
            self.http, "POST", url, token=token, mutating=True, json=payload, headers=bearer(token)
        )
        if not response.is_success:
            raise whatsapp_error(response, token=token, now=self.clock.now())
        body = json_body(response)
        message_id = _first(body, "messages", "id")
        if message_id is None:
            # A success status without the message id: the message may be on its way.
            raise call_error(
                ErrorKind.UNKNOWN_OUTCOME,
                "malformed_response",
                "WhatsApp Cloud API answered without a message id",
                token=token,
                status=response.status_code,
            )
        return SentMessage(message_id, _first(body, "contacts", "wa_id") or recipient, self.clock.now())


def recipient_id(to: str, *, token: str | None = None) -> str:
    """The recipient as the Cloud API takes it: digits in international format, country code first.
    A leading +, spaces and dashes are dropped; anything else is refused."""
    digits = _SEPARATORS.sub("", to.strip())
    digits = digits.removeprefix("+")
    if not _INTERNATIONAL.fullmatch(digits):
        raise call_error(
            ErrorKind.PERMANENT,
            "invalid_recipient",
            f"{to!r} is not a phone number in international format (country code first, digits only)",
            token=token,
        )
    return digits


def whatsapp_error(response: httpx.Response, *, token: str, now: datetime) -> PlatformCallError:
    """Classify a failed Cloud API response by its error code (Meta's advice), then its status."""
    status = response.status_code
    error = json_body(response).get("error")
    if not isinstance(error, dict):
        error = {}
    code = graph_int(error.get("code"))
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    message = str(details or error.get("message") or f"WhatsApp Cloud API answered HTTP {status}")
    code_text = str(code) if code is not None else f"http_{status}"
    if code == OUTSIDE_WINDOW:
        return call_error(
            ErrorKind.PERMANENT,
            "outside_customer_service_window",
            "more than 24 hours have passed since the customer last wrote, so a free-form message cannot "
            f"reach them: send an approved template instead ({message})",
            token=token,
            status=status,
        )
    if code in THROTTLE_WAIT:
        wait = _retry_after(response, code, now)
        return call_error(
            ErrorKind.RATE_LIMITED, code_text, message, token=token, status=status, retry_after=wait
        )
    if code in AUTH_CODES or status == 401:
        return call_error(ErrorKind.AUTH_EXPIRED, code_text, message, token=token, status=status)
    if code in PERMANENT_CODES:
        return call_error(ErrorKind.PERMANENT, code_text, message, token=token, status=status)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
        # A gateway timeout may come after the message went out: sending again could send it twice.
        kind = ErrorKind.UNKNOWN_OUTCOME if status == 504 else ErrorKind.RETRYABLE
        return call_error(kind, code_text, message, token=token, status=status)
    if status == 429:
        wait = _retry_after(response, code, now)
        return call_error(
            ErrorKind.RATE_LIMITED, code_text, message, token=token, status=status, retry_after=wait
        )
    return call_error(ErrorKind.PERMANENT, code_text, message, token=token, status=status)


def _retry_after(response: httpx.Response, code: int | None, now: datetime) -> float:
    """Retry-After (or the Business Use Case header) when sent, else the wait the code suggests."""
    explicit = graph_retry_after(response, now)
    if explicit is not None:
        return explicit
    return THROTTLE_WAIT.get(code, DEFAULT_THROTTLE_WAIT) if code is not None else DEFAULT_THROTTLE_WAIT


def _first(body: dict[str, Any], key: str, field: str) -> str | None:
    items = body.get(key)
    first = items[0] if isinstance(items, list) and items else None
    value = first.get(field) if isinstance(first, dict) else None
    return str(value) if value else None
