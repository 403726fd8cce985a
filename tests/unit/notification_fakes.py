"""Notification mail for tests: a user's addresses in memory, some confirmed, sending through a fake."""

from __future__ import annotations

from tidings.core.clock import Clock
from tidings.models.notifications import AddressStatus, NotificationAddress
from tidings.notifications.service import MailSender, NotificationMail
from tidings.store.memory.notification_addresses import InMemoryNotificationAddressRepository


def confirmed_mail(
    mail: MailSender,
    clock: Clock,
    user_id: str,
    *confirmed: str,
    sender: str = "alerts@tidings.example",
    per_hour: int = 30,
) -> NotificationMail:
    """Notification mail for `user_id`, whose `confirmed` addresses are confirmed."""
    repo = InMemoryNotificationAddressRepository()
    for email in confirmed:
        repo.add(NotificationAddress(user_id, email, AddressStatus.PENDING, clock.now()), limit=100)
        repo.confirm(user_id, email, clock.now())
    return NotificationMail(repo, mail, sender, clock, per_hour)
