"""Confirmation links of notification addresses: a token per (user, address, expiry), sealed
(`tidings.core.sealing`, with a salt of its own, so no unsubscribe or page token opens as one) and so
showing none of the three; a token that is altered, cut, made with another key, or past its expiry
confirms nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tidings.core.config import Settings
from tidings.core.errors import NotFound, TidingsError
from tidings.core.sealing import MIN_SECRET_BYTES, Sealer, pack_fields, unpack_fields

ROUTE = "/notification-addresses/confirm/"
MAX_TOKEN_CHARS = 1024
_HKDF_SALT = b"tidings notification address v1"


class InvalidConfirmationLink(NotFound):
    code = "confirmation_link_invalid"

    def __init__(self) -> None:
        super().__init__(
            "this confirmation link is not one Tidings made, or it was cut or changed, or the address "
            "was deleted since; use the link exactly as it arrived"
        )


class ConfirmationLinkExpired(TidingsError):
    status = 410
    code = "confirmation_link_expired"

    def __init__(self) -> None:
        super().__init__("this confirmation link has expired; add the address again to receive a new one")


class MailNotConfigured(TidingsError):
    """No sender, no link secret or no public URL: notification e-mail cannot go out."""

    status = 503
    code = "email_not_configured"


@dataclass(frozen=True)
class LinkTarget:
    user_id: str
    email: str
    expires_at: datetime


class ConfirmationLinks:
    def __init__(self, secret: str | bytes, base_url: str, valid_for: timedelta) -> None:
        material = secret.encode() if isinstance(secret, str) else secret
        if len(material) < MIN_SECRET_BYTES:
            raise MailNotConfigured(
                f"the link secret must be at least {MIN_SECRET_BYTES} bytes",
                {"setting": "TIDINGS_UNSUBSCRIBE_SECRET_ARN"},
            )
        self._sealer = Sealer(material, _HKDF_SALT)
        self.base_url = base_url.rstrip("/")
        self.valid_for = valid_for

    def url(self, user_id: str, email: str, now: datetime) -> str:
        if not self.base_url:
            raise MailNotConfigured(
                "no public API URL is configured for confirmation links",
                {"setting": "TIDINGS_PUBLIC_API_URL"},
            )
        expires = str(int((now + self.valid_for).timestamp()))
        token = self._sealer.seal(pack_fields(user_id=user_id, email=email, expires=expires))
        return f"{self.base_url}{ROUTE}{token}"

    def read(self, token: str, now: datetime) -> LinkTarget:
        """Whom the token names; InvalidConfirmationLink for anything this key did not make,
        ConfirmationLinkExpired after its time."""
        payload = self._sealer.open(token, max_chars=MAX_TOKEN_CHARS)
        fields = unpack_fields(payload) if payload is not None else None
        if fields is None or len(fields) != 3 or not fields[2].isdigit():
            raise InvalidConfirmationLink()
        user_id, email, expires = fields
        expires_at = datetime.fromtimestamp(int(expires), UTC)
        if now >= expires_at:
            raise ConfirmationLinkExpired()
        return LinkTarget(user_id=user_id, email=email, expires_at=expires_at)


def links_from(settings: Settings, secret: str | bytes) -> ConfirmationLinks:
    """This deployment's links: signed with `secret` (the deployment's token secret), pointing at
    `public_api_url`, which must be https unless private links are allowed (`tidings dev`)."""
    base = settings.public_api_url.strip()
    if base and not base.startswith("https://") and not settings.allow_private_links:
        raise MailNotConfigured("confirmation links must be https", {"setting": "TIDINGS_PUBLIC_API_URL"})
    return ConfirmationLinks(secret, base, timedelta(hours=settings.notification_link_hours))
