"""Campaign email through Amazon SES (API v2): one raw message per call, and the account's send rate.

What SES answers, and what each answer means for the email (SES API v2 Reference, SendEmail "Errors";
SES Developer Guide, "Errors related to the sending quotas for your Amazon SES account"):

- 200 with a MessageId: `accepted`, SES took the message.
- `TooManyRequestsException` (429), `ThrottlingException` / `Throttling` ("Maximum sending rate
  exceeded", "Daily message quota exceeded"), `LimitExceededException`: `throttled`; SES drops the
  message and advises waiting (up to 10 minutes) before trying again.
- `MessageRejected`, `BadRequestException` and any other 4xx about the message (a bad address...):
  `rejected`, it will never be accepted as it is.
- `AccountSuspendedException`, `SendingPausedException`, `MailFromDomainNotVerifiedException`,
  `NotFoundException` (the configuration set), 401/403: `blocked`, nothing of this account goes out
  until someone fixes it; nothing was sent.
- 503 `ServiceUnavailable`, or no connection at all (refused, DNS, connect timeout, TLS handshake):
  `not_sent`, SES did not take the request.
- A read timeout, a dropped connection, another 5xx: `in_doubt`, the request went out and SES may
  have taken it.

SES has no idempotency key: a message sent again after an `in_doubt` answer may reach the recipient
twice. The caller decides what to do with doubt (campaigns never send it again).

The client never retries by itself (botocore's retries would send a timed-out message again): one
attempt per call, a 3 s connect and a 10 s read timeout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

THROTTLED = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}
)
BLOCKED = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "NotFoundException",
        "AccessDeniedException",
        "AccessDenied",
    }
)
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
# An email tag's name and value: ASCII letters, digits, `_` and `-`, at most 256 characters (SES API v2
# Reference, MessageTag).
_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Outcome:
    ACCEPTED = "accepted"
    THROTTLED = "throttled"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    NOT_SENT = "not_sent"
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class SendResult:
    outcome: str  # Outcome
    message_id: str | None = None
    code: str | None = None  # SES's error code, or the kind of connection failure
    detail: str = ""

    @property
    def reason(self) -> str:
        """`code: detail`, short enough to store with the send."""
        text = f"{self.code}: {self.detail}" if self.detail else str(self.code or self.outcome)
        return text[:500]


def email_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """The tags SES may carry (others are left out rather than failing the send)."""
    return [
        {"Name": name, "Value": value}
        for name, value in tags.items()
        if _TAG.fullmatch(name) and _TAG.fullmatch(value)
    ]


def classify_client_error(code: str, status: int, message: str) -> SendResult:
    if code in THROTTLED or status == 429:
        return SendResult(Outcome.THROTTLED, code=code, detail=message)
    if code in BLOCKED or status in (401, 403):
        return SendResult(Outcome.BLOCKED, code=code, detail=message)
    if status == 503:
        return SendResult(Outcome.NOT_SENT, code=code, detail=message)
    if status >= 500:
        return SendResult(Outcome.IN_DOUBT, code=code, detail=message)
    return SendResult(Outcome.REJECTED, code=code, detail=message)


class SesCampaignMail:
    """SES v2 for campaign email. The client is made on first use (a cold start that sends nothing
    never pays for it)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client  # a boto3 "sesv2" client (no type stubs are installed for it)

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "sesv2",
                config=Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    read_timeout=READ_TIMEOUT_SECONDS,
                ),
            )
        return self._client

    def max_send_rate(self) -> float:
        """The account's maximum send rate, emails a second (GetAccount `SendQuota.MaxSendRate`)."""
        quota = self.client.get_account().get("SendQuota") or {}
        return float(quota["MaxSendRate"])

    def send_raw(
        self,
        *,
        sender: str,
        recipient: str,
        raw: bytes,
        configuration_set: str,
        tags: Mapping[str, str] | None = None,
    ) -> SendResult:
        """Send one raw MIME message to one recipient; never raises for what SES or the network
        answers (see the module's table)."""
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as NoConnection

        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": raw}},
        }
        if configuration_set:
            request["ConfigurationSetName"] = configuration_set
        if tags and (carried := email_tags(tags)):
            request["EmailTags"] = carried
        try:
            resp = self.client.send_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error") or {}
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            return classify_client_error(str(error.get("Code", "")), status, str(error.get("Message", "")))
        except NoConnection as exc:  # refused, DNS, connect timeout, TLS handshake: nothing left
            return SendResult(Outcome.NOT_SENT, code=type(exc).__name__, detail=str(exc))
        except HTTPClientError as exc:  # read timeout, connection dropped: the request went out
            return SendResult(Outcome.IN_DOUBT, code=type(exc).__name__, detail=str(exc))
        return SendResult(Outcome.ACCEPTED, message_id=str(resp["MessageId"]))
