"""The composition root's builders of notification e-mail: the addresses' store, the mail every
notification and alert e-mail goes through, and the addresses' use-cases (with their links)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.notifications.service import NotificationAddresses, NotificationMail
    from tidings.store.notification_addresses import NotificationAddressRepository


@lru_cache(maxsize=1)
def notification_address_repository() -> NotificationAddressRepository:
    from tidings.store.notification_addresses import DynamoNotificationAddressRepository

    return DynamoNotificationAddressRepository(get_settings().table_name)


@lru_cache(maxsize=1)
def notification_mail() -> NotificationMail:
    from tidings.aws.mail import SesMail
    from tidings.notifications.service import NotificationMail

    s = get_settings()
    return NotificationMail(
        notification_address_repository(),
        SesMail(),
        s.notification_from_email,
        DEFAULT_CLOCK,
        s.notification_mail_per_hour,
    )


@lru_cache(maxsize=1)
def notification_addresses() -> NotificationAddresses:
    from tidings.campaigns.unsubscribe import deployment_secret
    from tidings.notifications.links import links_from
    from tidings.notifications.service import NotificationAddresses

    s = get_settings()
    return NotificationAddresses(
        notification_address_repository(),
        notification_mail(),
        # signed with the deployment's secret (never a process's own: a link outlives the instance)
        links_from(s, deployment_secret(s)),
        DEFAULT_CLOCK,
        s.notification_addresses_max,
    )
