"""E-mail for alerts: when an alert is raised for an integration that names an alert e-mail address,
one plain-text message goes out through the user's notification mail (`tidings.notifications`: only
to an address the user confirmed, within the user's hourly count) from the `notification_from_email`
identity. A raise whose address is not confirmed, or over the count, is skipped with a warning
naming the reason (the alert itself still goes to the user's webhooks), and not retried.

It runs on the same stream records as the webhooks. Each raise is claimed on the alert first
(`emailed_for = raised_at`), so a record read twice sends one e-mail; if sending fails, the claim is
released and the record is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tidings.notifications.service import MailSender as MailSender  # the sender's interface, for others
from tidings.notifications.service import NotificationMail
from tidings.store.alerts import AlertRepository
from tidings.store.dynamo import deserialize_stream_image
from tidings.webhooks.events import Event, EventType

logger = logging.getLogger(__name__)


class AlertMailer:
    def __init__(self, alerts: AlertRepository, mail: NotificationMail) -> None:
        self.alerts = alerts
        self.mail = mail

    def handle(self, record: Mapping[str, Any], events: Sequence[Event]) -> bool:
        """Send the e-mail a raise among `events` (those of `record`) asks for; True when one was sent."""
        if not any(e.type == EventType.ALERT_RAISED for e in events):
            return False  # most records (posts, workflows) end here, unparsed
        item = deserialize_stream_image(record["dynamodb"]["NewImage"])
        to = item.get("notify_email")
        if not to:
            return False
        if not self.mail.sender:
            logger.warning("alert e-mail is not configured: set TIDINGS_NOTIFICATION_FROM_EMAIL")
            return False
        user_id, alert_id, raised_at = item["user_id"], item["alert_id"], item["raised_at"]
        if not self.alerts.claim_email(user_id, alert_id, raised_at):
            return False
        name = item.get("integration_name") or item.get("integration_id")
        subject = f"[Tidings {str(item.get('severity', '')).upper()}] {name}: {item.get('kind')}"
        body = (
            f"{item.get('message')}\n\nIntegration: {name} ({item.get('integration_id')})\n"
            f"Severity: {item.get('severity')}\nRaised at: {raised_at}\n\n"
            f"Resolve it with POST /alerts/{alert_id}/resolve; it also resolves\n"
            "itself once the condition clears."
        )
        try:
            return self.mail.send_or_skip(user_id, [str(to)], subject, body, {"alertId": alert_id})
        except Exception:
            self.alerts.release_email(user_id, alert_id)
            raise
