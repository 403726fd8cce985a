"""The credential vault: envelope encryption of secrets with AWS KMS and AES-256-GCM.

Every secret gets its own data key: KMS GenerateDataKey (AES_256) returns the key in plaintext and
wrapped under the vault's KMS key; the secret is encrypted locally with AES-256-GCM under the
plaintext key, which is then dropped. What is stored is the wrapped key, the nonce and the
ciphertext (with its tag) -- never a usable key.

The owner (user id) and the subject (the account or integration the secret belongs to) are bound
twice: as the KMS encryption context, so KMS refuses to unwrap the data key for any other pair (and
CloudTrail records the pair on every use), and as AES-GCM associated data, so a ciphertext moved
under another record fails authentication even with a valid key. A record copied to another user
cannot be opened.

Sources: AWS KMS Developer Guide, "Envelope encryption" and "Encryption context"; KMS API Reference,
GenerateDataKey (KeySpec AES_256) and Decrypt (EncryptionContext must match exactly); NIST SP 800-38D
(96-bit random nonces for GCM).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tidings.core.secrets import FORMAT_VERSION, CredentialError, SealedSecret

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_NONCE_BYTES = 12
_PURPOSE = "credentials"


def encryption_context(user_id: str, subject_id: str) -> dict[str, str]:
    return {"tidings:purpose": _PURPOSE, "tidings:userId": user_id, "tidings:subjectId": subject_id}


def _associated_data(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


class CredentialVault:
    """Seals and opens secrets (a JSON object each) for one owner and subject."""

    def __init__(self, key_id: str, kms: KMSClient | None = None) -> None:
        self.key_id = key_id
        self._kms = kms

    @property
    def kms(self) -> KMSClient:
        if self._kms is None:
            import boto3

            self._kms = boto3.client("kms")
        return self._kms

    def seal(self, user_id: str, subject_id: str, secret: Mapping[str, Any]) -> SealedSecret:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        context = encryption_context(user_id, subject_id)
        data_key = self.kms.generate_data_key(KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=context)
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(dict(secret), separators=(",", ":")).encode()
        ciphertext = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, _associated_data(context))
        return SealedSecret(
            key_id=data_key["KeyId"],
            wrapped_key=data_key["CiphertextBlob"],
            nonce=nonce,
            ciphertext=ciphertext,
        )

    def open(self, user_id: str, subject_id: str, sealed: SealedSecret) -> dict[str, Any]:
        from botocore.exceptions import ClientError
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if sealed.version != FORMAT_VERSION:
            raise CredentialError(f"unknown credential format {sealed.version}", {})
        context = encryption_context(user_id, subject_id)
        try:
            data_key = self.kms.decrypt(
                CiphertextBlob=sealed.wrapped_key, KeyId=sealed.key_id, EncryptionContext=context
            )
            plaintext = AESGCM(data_key["Plaintext"]).decrypt(
                sealed.nonce, sealed.ciphertext, _associated_data(context)
            )
        except (ClientError, InvalidTag) as exc:
            # Which one failed says nothing useful to a caller and something to an attacker.
            raise CredentialError("the stored credentials cannot be opened for this owner", {}) from exc
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise CredentialError("the stored credentials are not an object", {})
        return value

    def rotate(self, user_id: str, subject_id: str, sealed: SealedSecret) -> SealedSecret:
        """The same secret under a new data key (and the vault's current KMS key)."""
        return self.seal(user_id, subject_id, self.open(user_id, subject_id, sealed))
