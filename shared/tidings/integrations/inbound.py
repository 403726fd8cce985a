"""Incoming platform webhooks (Meta: Facebook Pages and Instagram), verified before anything is read.

- The subscription handshake is a GET with `hub.mode=subscribe`, `hub.verify_token` and
  `hub.challenge`: the token must equal ours, and the answer is the challenge as it came.
- Each event POST carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw request body,
  keyed with the app secret>`. It is checked on the raw bytes (never re-serialised JSON), in constant
  time; a missing or wrong signature is refused with 401 and nothing is stored.
Source: Meta for Developers, "Webhooks -- Getting Started" (Verification Requests; Validating Payloads).

Verified events are kept for 7 days (`tidings.store.inbound`), the inbox later processing reads.
A delivery holds at most MAX_ENTRIES entries (Meta batches at most 1,000 updates in one delivery:
"Webhooks -- Getting Started", Event Notifications); a longer one is refused with 413 and nothing is
stored, so a signed body of tens of thousands of tiny entries is answered at once instead of being
written. Entries repeated within a delivery are stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tidings.core.errors import Forbidden, PayloadTooLarge, Unauthorized, ValidationFailed
from tidings.store.inbound import InboundEventRepository

_PREFIX = "sha256="
MAX_ENTRIES = 1000


def answer_handshake(params: Mapping[str, str], verify_token: str) -> str:
    """The challenge to echo, when the handshake is ours."""
    if params.get("hub.mode") != "subscribe" or "hub.challenge" not in params:
        raise ValidationFailed(
            "a subscription handshake has hub.mode=subscribe, hub.verify_token and hub.challenge",
            {"fields": ["hub.mode", "hub.verify_token", "hub.challenge"]},
            code="invalid_handshake",
        )
    if not verify_token or not hmac.compare_digest(params.get("hub.verify_token", ""), verify_token):
        raise Forbidden("the verify token does not match", {}, code="verify_token_mismatch")
    return params["hub.challenge"]


def check_signature(raw_body: bytes, header: str | None, app_secret: str) -> None:
    if not app_secret:
        raise Unauthorized("incoming Meta webhooks are not configured", {}, code="webhook_not_configured")
    if not header or not header.startswith(_PREFIX):
        raise Unauthorized("X-Hub-Signature-256 is missing or malformed", {}, code="invalid_signature")
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header[len(_PREFIX) :].strip().lower(), expected):
        raise Unauthorized("the signature does not match the body", {}, code="invalid_signature")


class MetaInbox:
    def __init__(self, events: InboundEventRepository) -> None:
        self.events = events

    def receive_meta(self, raw_body: bytes, signature: str | None, app_secret: str, now: datetime) -> int:
        """Verify, then store each entry of the delivery. Returns how many were stored."""
        check_signature(raw_body, signature, app_secret)
        try:
            payload: Any = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("the body is not JSON", {}, code="malformed_json") from None
        entries = payload.get("entry") if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            raise ValidationFailed(
                "a Meta delivery has an entry list", {"field": "entry"}, code="invalid_event"
            )
        if len(entries) > MAX_ENTRIES:
            raise PayloadTooLarge(
                f"a delivery holds at most {MAX_ENTRIES} entries; this one has {len(entries)}",
                {"limit": MAX_ENTRIES, "entries": len(entries)},
                code="too_many_entries",
            )
        return self.events.add("meta", str(payload.get("object", "")), entries, now)
