"""The local identity provider: tokens it issues are accepted, everything the JWT authorizer
would refuse is refused, and the key survives a restart."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from infra.local import auth as auth_module
from infra.local.auth import AUDIENCE, ISSUER, KEY_FILE, InvalidTokenError, LocalAuth


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def auth(state_dir: Path) -> LocalAuth:
    return LocalAuth(state_dir)


def sign(state_dir: Path, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """A token signed with the state dir's own key, with exactly these claims."""
    key = serialization.load_pem_private_key((state_dir / KEY_FILE).read_bytes(), password=None)
    token: str = jwt.encode(claims, key, algorithm="RS256", headers=headers)  # type: ignore[arg-type]
    return token


def good_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def reason(auth: LocalAuth, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        auth.verify(token)
    return caught.value.reason


def test_an_issued_token_is_accepted_and_carries_the_user_in_sub(auth: LocalAuth) -> None:
    token = auth.issue_token("user-42")

    verified = auth.verify(token)

    assert verified["sub"] == "user-42"
    assert verified["iss"] == ISSUER
    assert verified["aud"] == AUDIENCE
    assert verified["token_use"] == "access"
    assert verified["exp"] - verified["iat"] == 12 * 3600
    assert verified["nbf"] <= time.time()


def test_extra_claims_reach_the_verified_claims(auth: LocalAuth) -> None:
    token = auth.issue_token("user-1", ttl_seconds=60, extra_claims={"email": "a@example.com"})

    verified = auth.verify(token)

    assert verified["email"] == "a@example.com"
    assert verified["exp"] - verified["iat"] == 60


def test_the_key_persists_across_instances_on_the_same_dir(auth: LocalAuth, state_dir: Path) -> None:
    token = auth.issue_token("user-1")

    again = LocalAuth(state_dir)

    assert again.verify(token)["sub"] == "user-1"
    assert again.key_id == auth.key_id
    assert again.jwks() == auth.jwks()


def test_the_private_key_file_is_readable_by_its_owner_only(auth: LocalAuth, state_dir: Path) -> None:
    mode = stat.S_IMODE((state_dir / KEY_FILE).stat().st_mode)

    assert mode == 0o600


def test_a_token_from_another_state_dir_is_refused(auth: LocalAuth, tmp_path: Path) -> None:
    stranger = LocalAuth(tmp_path).issue_token("user-1")

    assert reason(auth, stranger) == auth_module.REASON_UNKNOWN_KEY


def test_a_tampered_payload_fails_the_signature_check(auth: LocalAuth) -> None:
    header, _, signature = auth.issue_token("user-1").split(".")
    forged_claims = json.dumps(good_claims(sub="admin")).encode()
    forged = base64.urlsafe_b64encode(forged_claims).rstrip(b"=").decode()

    assert reason(auth, f"{header}.{forged}.{signature}") == auth_module.REASON_BAD_SIGNATURE


def test_a_token_signed_with_another_key_under_our_kid_fails_the_signature_check(
    auth: LocalAuth, tmp_path: Path
) -> None:
    other = LocalAuth(tmp_path)
    forged = sign(tmp_path, good_claims(), headers={"kid": auth.key_id})

    assert other.key_id != auth.key_id
    assert reason(auth, forged) == auth_module.REASON_BAD_SIGNATURE


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_not_signed_with_rs256_is_refused(auth: LocalAuth) -> None:
    # The classic confusion: HMAC "signed" with the public key everyone can fetch.
    public_pem = jwt.PyJWK(auth.jwks()["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": auth.key_id, "typ": "JWT"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(good_claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    assert reason(auth, f"{signing_input}.{b64url(mac)}") == auth_module.REASON_BAD_ALGORITHM


def test_an_unsigned_token_is_refused(auth: LocalAuth) -> None:
    header = {"alg": "none", "kid": auth.key_id, "typ": "JWT"}
    token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(good_claims()).encode())}."

    assert reason(auth, token) == auth_module.REASON_BAD_ALGORITHM


def test_a_wrong_issuer_is_refused(auth: LocalAuth) -> None:
    token = auth.issue_token("user-1", extra_claims={"iss": "https://cognito-idp.example.com/pool"})

    assert reason(auth, token) == auth_module.REASON_WRONG_ISSUER


def test_a_wrong_audience_is_refused(auth: LocalAuth) -> None:
    token = auth.issue_token("user-1", extra_claims={"aud": "someone-else", "client_id": "someone-else"})

    assert reason(auth, token) == auth_module.REASON_WRONG_AUDIENCE


def test_client_id_stands_in_for_a_missing_aud(auth: LocalAuth, state_dir: Path) -> None:
    accepted = sign(state_dir, good_claims(aud=None, client_id=AUDIENCE), headers={"kid": auth.key_id})
    refused = sign(
        state_dir, good_claims(aud="someone-else", client_id=AUDIENCE), headers={"kid": auth.key_id}
    )

    assert auth.verify(accepted)["client_id"] == AUDIENCE
    assert reason(auth, refused) == auth_module.REASON_WRONG_AUDIENCE


def test_an_audience_list_containing_ours_is_accepted(auth: LocalAuth) -> None:
    token = auth.issue_token("user-1", extra_claims={"aud": ["other", AUDIENCE]})

    assert auth.verify(token)["sub"] == "user-1"


def test_an_expired_token_is_refused(auth: LocalAuth) -> None:
    token = auth.issue_token("user-1", extra_claims={"exp": int(time.time()) - 1})

    assert reason(auth, token) == auth_module.REASON_EXPIRED


def test_a_token_without_exp_is_refused(auth: LocalAuth, state_dir: Path) -> None:
    token = sign(state_dir, good_claims(exp=None), headers={"kid": auth.key_id})

    assert reason(auth, token) == auth_module.REASON_MALFORMED


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_from_the_future_is_refused(auth: LocalAuth, claim: str) -> None:
    token = auth.issue_token("user-1", extra_claims={claim: int(time.time()) + 300})

    assert reason(auth, token) == auth_module.REASON_NOT_YET_VALID


@pytest.mark.parametrize("sub", [None, ""])
def test_a_token_without_a_subject_is_refused(auth: LocalAuth, state_dir: Path, sub: str | None) -> None:
    token = sign(state_dir, good_claims(sub=sub), headers={"kid": auth.key_id})

    assert reason(auth, token) == auth_module.REASON_MISSING_SUB


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_malformed_tokens_are_refused(auth: LocalAuth, token: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        auth.verify(token)

    assert caught.value.reason in {auth_module.REASON_MALFORMED, auth_module.REASON_BAD_ALGORITHM}
    assert caught.value.description


def test_a_token_accepted_once_is_refused_after_it_expires(
    auth: LocalAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = auth.issue_token("user-1", ttl_seconds=60)
    assert auth.verify(token)["sub"] == "user-1"

    later = time.time() + 61
    monkeypatch.setattr("infra.local.auth.time", SimpleNamespace(time=lambda: later))

    assert reason(auth, token) == auth_module.REASON_EXPIRED


def test_the_jwks_verifies_issued_tokens(auth: LocalAuth) -> None:
    token = auth.issue_token("user-7")
    (published,) = auth.jwks()["keys"]

    claims = jwt.decode(
        token, jwt.PyJWK(published).key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
    )

    assert claims["sub"] == "user-7"
    assert published["kid"] == auth.key_id
    assert published["kty"] == "RSA"
    assert "d" not in published  # the private exponent never leaves the state dir


@pytest.mark.parametrize(
    ("user_id", "ttl"),
    [("", 60), ("user-1", 0), ("user-1", -5), ("a#b", 60), ("nul\x00", 60), ("x" * 65, 60), ("-x", 60)],
)
def test_issue_token_rejects_nonsense(auth: LocalAuth, user_id: str, ttl: int) -> None:
    with pytest.raises(ValueError, match="must"):
        auth.issue_token(user_id, ttl_seconds=ttl)
