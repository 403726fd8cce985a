"""The in-memory secret vault the in-memory repositories and the tests seal with: a sealed secret opens
only for the owner and subject it was sealed for, only in its vault, and never once altered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tidings.core.secrets import CredentialError
from tidings.store.memory.accounts import InMemorySecretVault

SECRET = {"accessToken": "EAAG-token-canary-0001", "refreshToken": "refresh-canary-0001"}


def test_a_sealed_secret_opens_for_its_owner_and_subject_and_holds_no_plaintext() -> None:
    vault = InMemorySecretVault()
    sealed = vault.seal("agent-7", "account:linkedin:urn:li:person:1", SECRET)

    assert vault.open("agent-7", "account:linkedin:urn:li:person:1", sealed) == SECRET
    stored = b"".join((sealed.wrapped_key, sealed.nonce, sealed.ciphertext))
    assert b"canary" not in stored


@pytest.mark.parametrize(
    ("user", "subject"),
    [("agent-8", "account:linkedin:urn:li:person:1"), ("agent-7", "account:linkedin:urn:li:person:2")],
)
def test_a_secret_moved_to_another_owner_or_subject_does_not_open(user: str, subject: str) -> None:
    vault = InMemorySecretVault()
    sealed = vault.seal("agent-7", "account:linkedin:urn:li:person:1", SECRET)
    with pytest.raises(CredentialError):
        vault.open(user, subject, sealed)


def test_an_altered_secret_or_one_from_another_vault_does_not_open() -> None:
    vault, other = InMemorySecretVault(), InMemorySecretVault()
    sealed = vault.seal("agent-7", "webhook:wh_1", {"secret": "whsec"})
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(CredentialError):
        vault.open("agent-7", "webhook:wh_1", replace(sealed, ciphertext=flipped))
    with pytest.raises(CredentialError):
        other.open("agent-7", "webhook:wh_1", sealed)
    with pytest.raises(CredentialError):
        other.open("agent-7", "webhook:wh_1", replace(sealed, key_id=other.key_id))


def test_rotation_reseals_under_a_new_data_key() -> None:
    vault = InMemorySecretVault()
    sealed = vault.seal("agent-7", "webhook:wh_1", {"secret": "whsec"})
    rotated = vault.rotate("agent-7", "webhook:wh_1", sealed)
    assert rotated.wrapped_key != sealed.wrapped_key
    assert vault.open("agent-7", "webhook:wh_1", rotated) == {"secret": "whsec"}
