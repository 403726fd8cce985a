"""The crisis alert e-mail: when a `crisis.detected` event is read from the stream (a crisis opened, or
its severity rose) and the crisis names an alert address (the user's crisis settings), one plain-text
message goes out through the user's notification mail (`tidings.notifications`: only to an address the
user confirmed, within the user's hourly count). An address no longer confirmed, or a count used up,
skips the e-mail with a warning naming the reason (the crisis still reaches the webhooks), and it is not
retried. Each occurrence is claimed first, so a record read twice sends one e-mail; if sending fails
otherwise, the claim is given back and the record is retried."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tidings.core.clock import Clock
from tidings.notifications.service import NotificationMail
from tidings.store.crises import CrisisRepository
from tidings.store.dynamo import deserialize_stream_image
from tidings.webhooks.events import Event, EventType

logger = logging.getLogger(__name__)


class CrisisMailer:
    def __init__(self, crises: CrisisRepository, mail: NotificationMail, clock: Clock) -> None:
        self.crises = crises
        self.mail = mail
        self.clock = clock

    def handle(self, record: Mapping[str, Any], events: Sequence[Event]) -> bool:
        """Send the e-mail a `crisis.detected` among `events` asks for; True when one was sent."""
        if not any(e.type == EventType.CRISIS_DETECTED for e in events):
            return False
        item = deserialize_stream_image(record["dynamodb"]["NewImage"])
        to = item.get("notify_email")
        if not to:
            return False
        if not self.mail.sender:
            logger.warning("crisis e-mail is not configured: set TIDINGS_NOTIFICATION_FROM_EMAIL")
            return False
        user_id, crisis_id, severity = item["user_id"], item["crisis_id"], str(item.get("severity"))
        if not self.crises.claim_email(user_id, crisis_id, severity, self.clock.now()):
            return False
        signals = ", ".join(str(s).replace("_", " ") for s in item.get("signals") or []) or "none"
        subject = f"[Tidings {severity.upper()}] Crisis detected: {signals}"
        body = (
            f"A possible crisis was detected on your accounts (severity {severity}).\n\n"
            f"Signals: {signals}\nOpened at: {item.get('opened_at')}\n\n"
            f"Details: GET /crises/{crisis_id}\nResolve it with POST /crises/{crisis_id}/resolve; "
            "if your settings hold\nscheduled posts during a crisis, resume them with "
            f"POST /crises/{crisis_id}/resume-queue.\n"
        )
        try:
            return self.mail.send_or_skip(user_id, [str(to)], subject, body, {"crisisId": crisis_id})
        except Exception:
            self.crises.release_email(user_id, crisis_id, severity)
            raise
