"""Plain-text e-mail through Amazon SES (API v2 SendEmail: FromEmailAddress, Destination.ToAddresses,
Content.Simple; boto3 sesv2 reference). The client is made on first use, so a cold start that sends
nothing never pays for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SesMail:
    def __init__(self, client: Any | None = None) -> None:
        self._client = client  # a boto3 "sesv2" client (no type stubs are installed for it)

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sesv2")
        return self._client

    def send_text(self, sender: str, to: Sequence[str], subject: str, body: str) -> str:
        """Send one message; SES's message id. SES's own errors propagate to the caller."""
        resp = self.client.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": list(to)},
            Content={
                "Simple": {
                    "Subject": {"Data": " ".join(subject.split()), "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                }
            },
        )
        return str(resp.get("MessageId", ""))
