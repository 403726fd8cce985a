"""Unsubscribe links: one token per (user, recipient address, campaign), signed and encrypted, and the
RFC 8058 headers that go with it.

The token names the user, the campaign and the recipient, and shows none of them: the three are
encrypted with AES-256-GCM, and the whole token is signed with HMAC-SHA256, checked in constant time
before anything is decrypted. Keys come from one secret through HKDF-SHA256 (one key to encrypt, one
to sign, one to derive the nonce). The nonce is derived from what is encrypted (an HMAC of it, as in
SIV constructions), so the same recipient of the same campaign always gets the same link and two
different plaintexts never share a nonce. Layout, then base64url without padding (about 200
characters for a UUID user id, a 36-character campaign id and a 30-character address):

    version (1 byte) | nonce (12) | AES-GCM ciphertext and tag (payload + 16) | HMAC-SHA256 (first 16)

A token that is altered, truncated, padded, made with another key or of another version reads as
nothing (`InvalidUnsubscribeToken`, 404 `unsubscribe_link_invalid`), never as someone else's.

RFC 8058 (section 3.1): the sender puts the HTTPS URI in `List-Unsubscribe` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`; the receiver's POST carries the body
`List-Unsubscribe=One-Click` and no cookies or authorization, so everything needed is in the URI;
the sender must not answer it with a redirect, and the message's DKIM signature must cover both
headers (SES's Easy DKIM signs the headers it is given).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tidings.core.config import Settings, get_settings
from tidings.core.errors import NotFound, TidingsError
from tidings.store.suppressions import address_key

VERSION = 1
NONCE_BYTES = 12
GCM_TAG_BYTES = 16
MAC_BYTES = 16  # HMAC-SHA256 cut to 128 bits
MAX_FIELD_BYTES = 255  # each of user id, campaign id and address (an address is at most 254)
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 1024
ROUTE = "/unsubscribe/"
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
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


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    """The bytes of an unpadded base64url text, None unless it is exactly what `_b64` makes of them."""
    if not _TOKEN_CHARS.match(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None  # no second spelling of the same bytes


def _field(value: str, name: str) -> bytes:
    raw = value.encode()
    if not raw or len(raw) > MAX_FIELD_BYTES:
        raise ValueError(f"{name} must be 1 to {MAX_FIELD_BYTES} bytes")
    return bytes([len(raw)]) + raw


def _fields(payload: bytes) -> list[str] | None:
    found: list[str] = []
    at = 0
    while at < len(payload):
        size = payload[at]
        value = payload[at + 1 : at + 1 + size]
        if size == 0 or len(value) != size:
            return None
        try:
            found.append(value.decode())
        except UnicodeDecodeError:
            return None
        at += 1 + size
    return found


class UnsubscribeLinks:
    """Makes and reads unsubscribe tokens with one secret, and the links to `base_url`."""

    def __init__(self, secret: str | bytes, base_url: str) -> None:
        material = secret.encode() if isinstance(secret, str) else secret
        if len(material) < MIN_SECRET_BYTES:
            raise UnsubscribeNotConfigured(
                f"the unsubscribe secret must be at least {MIN_SECRET_BYTES} bytes",
                {"setting": "TIDINGS_UNSUBSCRIBE_SECRET_ARN"},
            )
        keys = HKDF(algorithm=hashes.SHA256(), length=96, salt=_HKDF_SALT, info=b"keys").derive(material)
        self._aead = AESGCM(keys[:32])
        self._mac_key = keys[32:64]
        self._nonce_key = keys[64:]
        self.base_url = base_url.rstrip("/")

    def token(self, user_id: str, email: str, campaign_id: str) -> str:
        payload = (
            _field(user_id, "user_id")
            + _field(campaign_id, "campaign_id")
            + _field(address_key(email), "email")
        )
        header = bytes([VERSION])
        nonce = hmac.new(self._nonce_key, header + payload, hashlib.sha256).digest()[:NONCE_BYTES]
        body = header + nonce + self._aead.encrypt(nonce, payload, header)
        return _b64(body + self._mac(body))

    def url(self, user_id: str, email: str, campaign_id: str) -> str:
        """The link (UnsubscribeNotConfigured without a base URL: reading tokens needs none)."""
        if not self.base_url:
            raise UnsubscribeNotConfigured(
                "no public API URL is configured for unsubscribe links", {"setting": "TIDINGS_PUBLIC_API_URL"}
            )
        return f"{self.base_url}{ROUTE}{self.token(user_id, email, campaign_id)}"

    def read(self, token: str) -> UnsubscribeTarget:
        """Whom the token names; InvalidUnsubscribeToken for anything this key did not make."""
        raw = _unb64(token) if isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS else None
        if raw is None or len(raw) < 1 + NONCE_BYTES + GCM_TAG_BYTES + MAC_BYTES + 6:
            raise InvalidUnsubscribeToken()
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)) or body[0] != VERSION:
            raise InvalidUnsubscribeToken()
        header, nonce, sealed = body[:1], body[1 : 1 + NONCE_BYTES], body[1 + NONCE_BYTES :]
        try:
            payload = self._aead.decrypt(nonce, sealed, header)
        except InvalidTag:
            raise InvalidUnsubscribeToken() from None
        fields = _fields(payload)
        if fields is None or len(fields) != 3:
            raise InvalidUnsubscribeToken()
        user_id, campaign_id, email = fields
        return UnsubscribeTarget(user_id=user_id, campaign_id=campaign_id, email=email)

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._mac_key, body, hashlib.sha256).digest()[:MAC_BYTES]


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
    if settings.unsubscribe_secret_arn:
        from tidings.aws.secrets import read_secret_string

        secret = (read_secret or read_secret_string)(settings.unsubscribe_secret_arn)
    elif settings.unsubscribe_secret:
        secret = settings.unsubscribe_secret
    else:
        raise UnsubscribeNotConfigured(
            "no unsubscribe secret is configured", {"setting": "TIDINGS_UNSUBSCRIBE_SECRET_ARN"}
        )
    return UnsubscribeLinks(secret, base)


@lru_cache(maxsize=1)
def default_links() -> UnsubscribeLinks:
    """This process's links, built from the settings on first use (the secret is read once)."""
    return links_from_settings(get_settings())


def unsubscribe_url(user_id: str, email: str, campaign_id: str) -> str:
    """The unsubscribe link for one recipient of one campaign (UnsubscribeNotConfigured when the
    deployment cannot make one)."""
    return default_links().url(user_id, email, campaign_id)
