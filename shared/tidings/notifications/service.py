"""The use-cases of notification e-mail: a user's addresses (add, which mails a confirmation link;
list; delete; confirm through the link) and the one way notification mail goes out
(`NotificationMail.send`): every recipient confirmed by that user, within the user's hourly count.

The confirmation e-mail carries nothing the user wrote (only the link and why it came), and counts
towards the same hourly limit, so adding addresses cannot be used to mail strangers either."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Protocol

from tidings.core.clock import Clock
from tidings.core.errors import NotFound, TooManyRequests, ValidationFailed
from tidings.models.notifications import AddressStatus, NotificationAddress
from tidings.notifications.links import ConfirmationLinks, InvalidConfirmationLink, MailNotConfigured
from tidings.store.notification_addresses import NotificationAddressRepository, address_key, hour_of

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
logger = logging.getLogger(__name__)

CONFIRM_SUBJECT = "Confirm notification e-mails from Tidings"


def valid_email(address: str) -> bool:
    return bool(_EMAIL.match(address)) and ".." not in address


class MailSender(Protocol):
    def send_text(self, sender: str, to: Sequence[str], subject: str, body: str) -> str:
        """Send one plain-text message; raises when it could not be sent."""
        ...


class RecipientUnconfirmed(ValidationFailed):
    code = "recipient_unconfirmed"

    def __init__(self, addresses: Sequence[str]) -> None:
        super().__init__(
            f"not a confirmed notification address of yours: {', '.join(addresses)}; add it with POST "
            "/notification-addresses and follow the link sent to it",
            {"addresses": list(addresses)},
        )


class NotificationRateLimited(TooManyRequests):
    code = "notification_rate_limited"


class NotificationAddressNotFound(NotFound):
    code = "notification_address_not_found"


class NotificationMail:
    """Sends notification mail for a user: only to the user's confirmed addresses, counted per hour."""

    def __init__(
        self,
        addresses: NotificationAddressRepository,
        mail: MailSender,
        sender: str,
        clock: Clock,
        per_hour: int,
    ) -> None:
        self.addresses = addresses
        self.mail = mail
        self.sender = sender.strip()
        self.clock = clock
        self.per_hour = per_hour

    def unconfirmed(self, user_id: str, emails: Iterable[str]) -> list[str]:
        """Those of `emails` (as address keys, once each, in order) the user has not confirmed."""
        wanted = list(dict.fromkeys(address_key(e) for e in emails))
        if not wanted:
            return []
        confirmed = {a.email for a in self.addresses.all(user_id) if a.confirmed}
        return [e for e in wanted if e not in confirmed]

    def require_confirmed(self, user_id: str, emails: Iterable[str]) -> None:
        missing = self.unconfirmed(user_id, emails)
        if missing:
            raise RecipientUnconfirmed(missing)

    def send(self, user_id: str, to: Sequence[str], subject: str, body: str) -> str:
        """Send one message to confirmed recipients: SES's message id. RecipientUnconfirmed,
        NotificationRateLimited or MailNotConfigured (no sender) before anything is sent; the mail
        sender's own errors propagate."""
        recipients = list(dict.fromkeys(address_key(a) for a in to))
        self.require_confirmed(user_id, recipients)
        return self._send(user_id, recipients, subject, body)

    def send_or_skip(
        self, user_id: str, to: Sequence[str], subject: str, body: str, about: dict[str, str]
    ) -> bool:
        """`send`, for an alert: True when sent; False, with a warning naming the reason and `about`
        (what the mail is about), when a recipient is not confirmed (any more) or the hourly count is
        used up, which no retry mends. The mail sender's own errors propagate."""
        try:
            self.send(user_id, to, subject, body)
        except (RecipientUnconfirmed, NotificationRateLimited) as exc:
            logger.warning(
                "notification e-mail skipped",
                extra={"userId": user_id, **about, "reason": exc.code, "detail": exc.message},
            )
            return False
        return True

    def send_confirmation(self, user_id: str, email: str, url: str, hours: int) -> str:
        """The one message that goes to an address not yet confirmed: the link, and nothing the user
        wrote; counted like any other."""
        body = (
            "A Tidings user asked to send their workflow notifications and alerts to this address.\n\n"
            f"To allow it, open this link and press Confirm (it works for {hours} hours):\n{url}\n\n"
            "If you did not expect this message, ignore it: nothing more will be sent to you."
        )
        return self._send(user_id, [address_key(email)], CONFIRM_SUBJECT, body)

    def _send(self, user_id: str, recipients: list[str], subject: str, body: str) -> str:
        if not self.sender:
            raise MailNotConfigured(
                "e-mail is not configured: set TIDINGS_NOTIFICATION_FROM_EMAIL to a verified SES identity",
                {"setting": "TIDINGS_NOTIFICATION_FROM_EMAIL"},
            )
        now = self.clock.now()
        if not self.addresses.take_mail(user_id, hour_of(now), len(recipients), self.per_hour):
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            raise NotificationRateLimited(
                f"at most {self.per_hour} notification e-mails an hour are sent for a user",
                {"limit": self.per_hour, "retryAfterSeconds": max(1, int((next_hour - now).total_seconds()))},
            )
        return self.mail.send_text(self.sender, recipients, subject, body)


class NotificationAddresses:
    """A user's notification addresses."""

    def __init__(
        self,
        repo: NotificationAddressRepository,
        mail: NotificationMail,
        links: ConfirmationLinks,
        clock: Clock,
        limit: int,
    ) -> None:
        self.repo = repo
        self.mail = mail
        self.links = links
        self.clock = clock
        self.limit = limit

    def add(self, user_id: str, email: str) -> tuple[NotificationAddress, bool]:
        """Add the address (pending) and mail it a confirmation link; an address waiting for its
        confirmation gets a new link, a confirmed one nothing. Whether a link was sent."""
        if not valid_email(email.strip()):
            raise ValidationFailed("not an e-mail address", {"field": "email"}, code="invalid_email")
        now = self.clock.now()
        url = self.links.url(user_id, address_key(email), now)  # before anything is stored
        stored, _ = self.repo.add(
            NotificationAddress(user_id=user_id, email=email, status=AddressStatus.PENDING, created_at=now),
            limit=self.limit,
        )
        if stored.confirmed:
            return stored, False
        self.mail.send_confirmation(
            user_id, stored.email, url, int(self.links.valid_for.total_seconds() // 3600)
        )
        return stored, True

    def list(self, user_id: str) -> list[NotificationAddress]:
        return self.repo.all(user_id)

    def remove(self, user_id: str, email: str) -> NotificationAddress:
        # an address that is nothing once normalised (blanks) names no stored one, and would be an
        # empty attribute name to DynamoDB
        removed = self.repo.remove(user_id, email) if address_key(email) else None
        if removed is None:
            raise NotificationAddressNotFound(
                "that address is not one of your notification addresses", {"email": address_key(email)}
            )
        return removed

    def link_target(self, token: str) -> NotificationAddress:
        """The address a link names, as stored (nothing changes)."""
        target = self.links.read(token, self.clock.now())
        found = next((a for a in self.repo.all(target.user_id) if a.email == target.email), None)
        if found is None:
            raise InvalidConfirmationLink()
        return found

    def confirm(self, token: str) -> NotificationAddress:
        target = self.links.read(token, self.clock.now())
        confirmed = self.repo.confirm(target.user_id, target.email, self.clock.now())
        if confirmed is None:
            raise InvalidConfirmationLink()
        return confirmed
