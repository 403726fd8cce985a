"""Sealed tokens: a payload encrypted and signed with keys from one secret, as URL-safe text.

Keys come from the secret through HKDF-SHA256 with a salt per use (unsubscribe links, page tokens),
so a token made for one use never opens as another's: one key to encrypt (AES-256-GCM), one to sign
(HMAC-SHA256, checked in constant time before anything is decrypted), one to derive the nonce. The
nonce is an HMAC of what is sealed (as in SIV constructions): the same payload always gives the same
token, and two payloads never share a nonce. A `context` (say, the user a token belongs to) is
authenticated but not carried: the token opens only with the same context. Layout, then base64url
without padding:

    version (1 byte) | nonce (12) | AES-GCM ciphertext and tag (payload + 16) | HMAC-SHA256 (first 16)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
NONCE_BYTES = 12
GCM_TAG_BYTES = 16
MAC_BYTES = 16  # HMAC-SHA256 cut to 128 bits
OVERHEAD_BYTES = 1 + NONCE_BYTES + GCM_TAG_BYTES + MAC_BYTES
MIN_SECRET_BYTES = 32
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes | None:
    """The bytes of an unpadded base64url text, None unless it is exactly what `b64` makes of them."""
    if not _TOKEN_CHARS.match(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if b64(raw) == text else None  # no second spelling of the same bytes


class Sealer:
    """Seals and opens tokens with the keys one secret gives for one use (`salt`)."""

    def __init__(self, secret: str | bytes, salt: bytes) -> None:
        material = secret.encode() if isinstance(secret, str) else secret
        if len(material) < MIN_SECRET_BYTES:
            raise ValueError(f"a sealing secret must be at least {MIN_SECRET_BYTES} bytes")
        keys = HKDF(algorithm=hashes.SHA256(), length=96, salt=salt, info=b"keys").derive(material)
        self._aead = AESGCM(keys[:32])
        self._mac_key = keys[32:64]
        self._nonce_key = keys[64:]

    def seal(self, payload: bytes, context: bytes = b"") -> str:
        header = bytes([VERSION])
        nonce = hmac.new(self._nonce_key, header + context + payload, hashlib.sha256).digest()[:NONCE_BYTES]
        body = header + nonce + self._aead.encrypt(nonce, payload, header + context)
        return b64(body + self._mac(body))

    def open(self, token: str, context: bytes = b"", max_chars: int = 4096) -> bytes | None:
        """The payload of a token this sealer made with `context`; None for anything else (altered,
        cut, padded, another key, use, version or context)."""
        raw = unb64(token) if isinstance(token, str) and len(token) <= max_chars else None
        if raw is None or len(raw) < OVERHEAD_BYTES:
            return None
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)) or body[0] != VERSION:
            return None
        header, nonce, sealed = body[:1], body[1 : 1 + NONCE_BYTES], body[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, header + context)
        except InvalidTag:
            return None

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._mac_key, body, hashlib.sha256).digest()[:MAC_BYTES]


MAX_FIELD_BYTES = 255  # each field of a packed payload


def pack_fields(**named: str) -> bytes:
    """Texts as one payload, in the order given, each as its length (one byte) and its UTF-8 bytes;
    ValueError naming the field for an empty text or one over MAX_FIELD_BYTES."""
    packed = b""
    for name, value in named.items():
        raw = value.encode()
        if not raw or len(raw) > MAX_FIELD_BYTES:
            raise ValueError(f"{name} must be 1 to {MAX_FIELD_BYTES} bytes")
        packed += bytes([len(raw)]) + raw
    return packed


def unpack_fields(payload: bytes) -> list[str] | None:
    """The texts `pack_fields` packed; None for anything else."""
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
