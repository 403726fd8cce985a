"""Sealed secrets as the rest of the code sees them: an opaque record, a hint, and the vault's shape.

The vault that seals and opens them (KMS envelope encryption, AES-256-GCM) is `tidings.aws.vault`;
repositories store a `SealedSecret` next to their record and use cases take any `SecretVault`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from tidings.core.errors import TidingsError

FORMAT_VERSION = 1


class CredentialError(TidingsError):
    """A sealed secret could not be opened: wrong owner or subject, tampered, or the key is gone."""

    status = 500
    code = "credentials_unreadable"


@dataclass(frozen=True)
class SealedSecret:
    """What is stored for one secret. Nothing in it is usable without KMS Decrypt on `key_id`."""

    key_id: str  # the KMS key that wrapped the data key (its ARN, as KMS returned it)
    wrapped_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    version: int = FORMAT_VERSION

    # The attribute names a sealed secret takes in its record.
    ITEM_FIELDS: ClassVar[tuple[str, ...]] = (
        "cred_kms_key",
        "cred_wrapped_key",
        "cred_nonce",
        "cred_ciphertext",
        "cred_format",
    )

    def to_item(self) -> dict[str, Any]:
        """The attributes to store next to the record's own (binary attributes in DynamoDB)."""
        return {
            "cred_kms_key": self.key_id,
            "cred_wrapped_key": self.wrapped_key,
            "cred_nonce": self.nonce,
            "cred_ciphertext": self.ciphertext,
            "cred_format": self.version,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SealedSecret:
        return cls(
            key_id=str(item["cred_kms_key"]),
            wrapped_key=_bytes(item["cred_wrapped_key"]),
            nonce=_bytes(item["cred_nonce"]),
            ciphertext=_bytes(item["cred_ciphertext"]),
            version=int(item.get("cred_format", FORMAT_VERSION)),
        )


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    inner = getattr(value, "value", None)  # boto3's Binary
    if isinstance(inner, bytes | bytearray):
        return bytes(inner)
    raise TypeError(f"expected bytes, got {type(value).__name__}")


def mask(secret: str) -> str:
    """A hint that tells two tokens apart without revealing either: the last four characters."""
    if len(secret) < 12:
        return "••••"
    return f"••••{secret[-4:]}"


class SecretVault(Protocol):
    """Seals and opens secrets (a JSON object each) for one owner and subject."""

    def seal(self, user_id: str, subject_id: str, secret: Mapping[str, Any]) -> SealedSecret: ...

    def open(self, user_id: str, subject_id: str, sealed: SealedSecret) -> dict[str, Any]: ...

    def rotate(self, user_id: str, subject_id: str, sealed: SealedSecret) -> SealedSecret: ...
