"""Notification addresses: where a user's workflow notifications and alert e-mails may go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class AddressStatus:
    PENDING = "pending"  # added; the confirmation link has not been used
    CONFIRMED = "confirmed"  # its owner followed the link and confirmed


@dataclass(frozen=True)
class NotificationAddress:
    user_id: str
    email: str  # trimmed and lower-cased
    status: str  # AddressStatus
    created_at: datetime
    confirmed_at: datetime | None = None

    @property
    def confirmed(self) -> bool:
        return self.status == AddressStatus.CONFIRMED
