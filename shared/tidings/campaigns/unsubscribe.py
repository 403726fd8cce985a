"""Unsubscribe links: one token per (user, recipient address, campaign), signed and encrypted, and the
RFC 8058 headers that go with it.

The token names the user, the campaign and the recipient, and shows none of them: the three are
sealed (`tidings.core.sealing`: AES-256-GCM, signed with HMAC-SHA256, keys from one secret through
HKDF-SHA256 with this use's salt). The nonce is derived from what is encrypted, so the same recipient
of the same campaign always gets the same link. About 200 characters for a UUID user id, a
36-character campaign id and a 30-character address.

A token that is altered, truncated, padded, made with another key or of another version reads as
nothing (`InvalidUnsubscribeToken`, 404 `unsubscribe_link_invalid`), never as someone else's.

RFC 8058 (section 3.1): the sender puts the HTTPS URI in `List-Unsubscribe` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`; the receiver's POST carries the body
`List-Unsubscribe=One-Click` and no cookies or authorization, so everything needed is in the URI;
the sender must not answer it with a redirect, and the message's DKIM signature must cover both
headers (SES's Easy DKIM signs the headers it is given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from tidings.core.config import Settings, get_settings
from tidings.core.errors import NotFound, TidingsError
from tidings.core.sealing import MIN_SECRET_BYTES, Sealer, pack_fields, unpack_fields
from tidings.store.suppressions import address_key

MAX_TOKEN_CHARS = 1024
ROUTE = "/unsubscribe/"
_HKDF_SALT = b"tidings unsubscribe v1"


@dataclass(frozen=True)
class UnsubscribeTarget:
    """Whom a token unsubscribes, and from whose mail."""

    user_id: str
    campaign_id: str
    email: str  # the address key (`tidings.store.suppressions.address_key`)


class InvalidUnsubscribeToken(NotFound):
    code = "unsubscribe_link_invalid"

    def __init__(self) -> None:
        super().__init__(
            "this unsubscribe link is not one Tidings made, or it was cut or changed; use the link "
            "in the email exactly as it arrived"
        )


class UnsubscribeNotConfigured(TidingsError):
    """The deployment has no unsubscribe key or public URL: no campaign email may go out without a
    working unsubscribe link."""

    status = 500
    code = "unsubscribe_not_configured"


class UnsubscribeLinks:
    """Makes and reads unsubscribe tokens with one secret, and the links to `base_url`."""

    def __init__(self, secret: str | bytes, base_url: str) -> None:
        material = secret.encode() if isinstance(secret, str) else secret
        if len(material) < MIN_SECRET_BYTES:
            raise UnsubscribeNotConfigured(
                f"the unsubscribe secret must be at least {MIN_SECRET_BYTES} bytes",
                {"setting": "TIDINGS_UNSUBSCRIBE_SECRET_ARN"},
            )
        self._sealer = Sealer(material, _HKDF_SALT)
        self.base_url = base_url.rstrip("/")

    def token(self, user_id: str, email: str, campaign_id: str) -> str:
        return self._sealer.seal(
            pack_fields(user_id=user_id, campaign_id=campaign_id, email=address_key(email))
        )

    def url(self, user_id: str, email: str, campaign_id: str) -> str:
        """The link (UnsubscribeNotConfigured without a base URL: reading tokens needs none)."""
        if not self.base_url:
            raise UnsubscribeNotConfigured(
                "no public API URL is configured for unsubscribe links", {"setting": "TIDINGS_PUBLIC_API_URL"}
            )
        return f"{self.base_url}{ROUTE}{self.token(user_id, email, campaign_id)}"

    def read(self, token: str) -> UnsubscribeTarget:
        """Whom the token names; InvalidUnsubscribeToken for anything this key did not make."""
        payload = self._sealer.open(token, max_chars=MAX_TOKEN_CHARS)
        fields = unpack_fields(payload) if payload is not None else None
        if fields is None or len(fields) != 3:
            raise InvalidUnsubscribeToken()
        user_id, campaign_id, email = fields
        return UnsubscribeTarget(user_id=user_id, campaign_id=campaign_id, email=email)


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """The headers of RFC 8058 one-click unsubscribe for an email whose unsubscribe link is `url`."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def links_from_settings(
    settings: Settings, read_secret: Callable[[str], str] | None = None
) -> UnsubscribeLinks:
    """The links of this deployment: the key from `unsubscribe_secret_arn` (read from Secrets Manager)
    or `unsubscribe_secret`, pointing at `public_api_url` (https, unless private links are allowed, as
    under `tidings dev`; without one, tokens can be read but no link made)."""
    base = settings.public_api_url.strip()
    if base and not base.startswith("https://") and not settings.allow_private_links:
        raise UnsubscribeNotConfigured(
            "unsubscribe links must be https (RFC 8058)", {"setting": "TIDINGS_PUBLIC_API_URL"}
        )
    return UnsubscribeLinks(deployment_secret(settings, read_secret), base)


def deployment_secret(settings: Settings, read_secret: Callable[[str], str] | None = None) -> str:
    """The deployment's token secret: the value of `unsubscribe_secret_arn` (read from Secrets
    Manager) or `unsubscribe_secret`; UnsubscribeNotConfigured without either. Unsubscribe links
    and page tokens (`tidings.store.dynamo`) seal with keys of their own derived from it."""
    if settings.unsubscribe_secret_arn:
        from tidings.aws.secrets import read_secret_string

        return (read_secret or read_secret_string)(settings.unsubscribe_secret_arn)
    if settings.unsubscribe_secret:
        return settings.unsubscribe_secret
    raise UnsubscribeNotConfigured(
        "no unsubscribe secret is configured", {"setting": "TIDINGS_UNSUBSCRIBE_SECRET_ARN"}
    )


@lru_cache(maxsize=1)
def default_links() -> UnsubscribeLinks:
    """This process's links, built from the settings on first use (the secret is read once)."""
    return links_from_settings(get_settings())


def unsubscribe_url(user_id: str, email: str, campaign_id: str) -> str:
    """The unsubscribe link for one recipient of one campaign (UnsubscribeNotConfigured when the
    deployment cannot make one)."""
    return default_links().url(user_id, email, campaign_id)
