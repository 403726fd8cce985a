"""A user's suppression list as the API and the unsubscribe links use it.

- An unsubscribe link (or the one-click POST of RFC 8058) names the user, the campaign and the
  recipient in its token; reading it puts the address on that user's list at once (`unsubscribed`,
  with the campaign). Following a link again changes nothing and answers the same.
- By hand: `POST /suppressions` adds an address (`manual`), within the per-user limit
  (MAX_SUPPRESSIONS_PER_USER entries); `DELETE /suppressions/{email}` takes one off, after which the
  user's campaigns may write to it again (the user's decision: the list is theirs).
- A suppressed address never receives another email of that user's campaigns: the sender checks the
  list before every send (`SuppressionRepository.is_suppressed`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tidings.campaigns.audience import normal_address
from tidings.campaigns.unsubscribe import UnsubscribeLinks, UnsubscribeTarget
from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.models.campaigns import Suppression, SuppressionReason
from tidings.store.suppressions import (
    MAX_PAGE,
    MAX_SUPPRESSIONS_PER_USER,
    SuppressionRepository,
    address_key,
)


@dataclass(frozen=True)
class Unsubscribed:
    target: UnsubscribeTarget
    suppression: Suppression  # the entry as stored: the first one, when the address was there already
    created: bool


class SuppressionService:
    def __init__(
        self,
        repository: SuppressionRepository,
        links: Callable[[], UnsubscribeLinks],
        clock: Clock = DEFAULT_CLOCK,
        *,
        limit: int = MAX_SUPPRESSIONS_PER_USER,
    ) -> None:
        self.repository = repository
        self.links = links  # built on first use: a route that reads no token needs no secret
        self.clock = clock
        self.limit = limit

    def link_target(self, token: str) -> tuple[UnsubscribeTarget, bool]:
        """Who a link is for, and whether the address is on its user's list already; changes nothing
        (InvalidUnsubscribeToken, a 404, for a token this deployment did not make)."""
        target = self.links().read(token)
        return target, self.repository.is_suppressed(target.user_id, target.email)

    def unsubscribe(self, token: str) -> Unsubscribed:
        """Put the address the token names on its user's list (InvalidUnsubscribeToken, a 404, for a
        token this deployment did not make)."""
        target = self.links().read(token)
        stored, created = self.repository.add(
            Suppression(
                user_id=target.user_id,
                email=target.email,
                reason=SuppressionReason.UNSUBSCRIBED,
                at=self.clock.now(),
                campaign_id=target.campaign_id,
            )
        )
        return Unsubscribed(target, stored, created)

    def add(self, user_id: str, email: str) -> tuple[Suppression, bool]:
        address = _address(email)
        return self.repository.add(
            Suppression(user_id=user_id, email=address, reason=SuppressionReason.MANUAL, at=self.clock.now()),
            limit=self.limit,
        )

    def page(self, user_id: str, limit: int, cursor: str | None) -> tuple[list[Suppression], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be 1 to {MAX_PAGE}", {"field": "limit"}, code="invalid_limit")
        try:
            return self.repository.list(user_id, limit, cursor)
        except ValueError:
            raise ValidationFailed(
                "the cursor is not one this API issued for your suppression list",
                {"field": "cursor"},
                code="invalid_cursor",
            ) from None

    def remove(self, user_id: str, email: str) -> Suppression:
        removed = self.repository.remove(user_id, email) if email.strip() else None
        if removed is None:
            raise NotFound(
                "that address is not on your suppression list",
                {"email": address_key(email)},
                code="suppression_not_found",
            )
        return removed

    def count(self, user_id: str) -> int:
        return self.repository.count(user_id)


def _address(email: str) -> str:
    address = normal_address(email)
    if address is None:
        raise ValidationFailed(
            "email must be an email address, e.g. ann@example.com",
            {"field": "email"},
            code="invalid_email",
        )
    return address_key(address)
