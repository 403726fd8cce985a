"""Bearer tokens for the local API: issued here, checked the way API Gateway's JWT authorizer does.

On AWS the HTTP API has a Cognito user pool JWT authorizer. Locally, `LocalAuth` plays the
identity provider: one RS256 key pair, created once and kept in the state directory, signs
Cognito-style access tokens, and `verify` applies the authorizer's checks to them.

The checks follow "Control access to HTTP APIs with JWT authorizers" in the API Gateway developer
guide (http-api-jwt-authorizer): an RSA signature by the key named in the token's `kid` header,
`iss` equal to the configured issuer, `aud` (or `client_id` when there is no `aud`) one of the
configured audiences, `exp` after now, `nbf` and `iat` not after now. Tidings takes the user id
from `sub`, so a token without one is refused as well.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.local.state import secret_file
from tidings.api.limits import SUBJECT

ISSUER = "http://127.0.0.1/tidings-local"
AUDIENCE = "tidings-local"
ALGORITHM = "RS256"
# The scope every local access token carries (Cognito access tokens carry a space-separated `scope`).
SCOPE = "tidings/api"
DEFAULT_TTL_SECONDS = 12 * 3600
KEY_FILE = "jwt-signing-key.pem"
_VERIFIED_CACHE_SIZE = 4096


class InvalidTokenError(Exception):
    """A token the local authorizer refuses.

    `reason` is one of the REASON_* constants; `description` is a short human sentence, the kind
    API Gateway puts in the `error_description` of its `www-authenticate` answer.
    """

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(f"{reason}: {description}")
        self.reason = reason
        self.description = description


REASON_MALFORMED = "malformed"
REASON_BAD_ALGORITHM = "bad_algorithm"
REASON_UNKNOWN_KEY = "unknown_key"
REASON_BAD_SIGNATURE = "bad_signature"
REASON_WRONG_ISSUER = "wrong_issuer"
REASON_WRONG_AUDIENCE = "wrong_audience"
REASON_EXPIRED = "expired"
REASON_NOT_YET_VALID = "not_yet_valid"
REASON_MISSING_SUB = "missing_sub"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The signing key at `path`, created (mode 0600) if absent; safe when two processes race."""

    def make() -> bytes:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    loaded = serialization.load_pem_private_key(secret_file(path, make), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError(REASON_MALFORMED, f"the token's {name} claim is not a number")
    return float(value)


class LocalAuth:
    """The local identity provider: issues and verifies RS256 access tokens.

    The key pair lives in `state_dir/jwt-signing-key.pem` (0600), so tokens printed by one
    process (`tidings token`) are accepted by another (`tidings dev`) using the same state dir.
    """

    issuer = ISSUER
    audience = AUDIENCE

    def __init__(self, state_dir: Path) -> None:
        self.key_path = Path(state_dir) / KEY_FILE
        self._private_key = _load_or_create_key(self.key_path)
        self._public_key = self._private_key.public_key()
        numbers = self._public_key.public_numbers()
        self._jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
        # RFC 7638 thumbprint: the same key always gets the same kid.
        canonical = json.dumps(self._jwk, separators=(",", ":"), sort_keys=True).encode()
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
        self._jwks = {"keys": [{**self._jwk, "kid": self.key_id, "use": "sig", "alg": ALGORITHM}]}
        # Tokens whose signature and payload were already checked; a client sends the same token
        # on every request, and the time claims are still checked on each use.
        self._verified: dict[str, dict[str, Any]] = {}

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set holding the public key (what a `jwks_uri` serves)."""
        return {"keys": [dict(key) for key in self._jwks["keys"]]}

    def issue_token(
        self,
        user_id: str,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token for `user_id`, valid from now for `ttl_seconds`.

        The claims mirror a Cognito access token (`token_use`, `scope`, `client_id`, `username`,
        `auth_time`, `jti`) plus `aud`. `extra_claims` are merged last, so they may replace the
        standard ones.
        """
        if not SUBJECT.match(user_id):
            # the API would answer 401 invalid_subject (tidings.api.limits)
            raise ValueError(
                "a user id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user_id,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "client_id": AUDIENCE,
            "token_use": "access",
            "scope": SCOPE,
            "username": user_id,
            "auth_time": now,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if extra_claims:
            claims.update(extra_claims)
        token: str = jwt.encode(
            claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.key_id, "typ": "JWT"}
        )
        return token

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if the JWT authorizer would accept it; InvalidTokenError otherwise."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = claims
        self._check_claims(claims, time.time())
        return dict(claims)

    def _decode(self, token: str) -> dict[str, Any]:
        """The payload of a token signed with our key (claims not checked yet)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(REASON_MALFORMED, "the token is not a well-formed JWT") from exc
        # "Currently, only RSA-based algorithms are supported" (http-api-jwt-authorizer); the only
        # key in our key set is an RS256 key.
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError(REASON_BAD_ALGORITHM, "the token is not signed with RS256")
        if header.get("kid") != self.key_id:
            raise InvalidTokenError(REASON_UNKNOWN_KEY, "the token's kid does not match a known key")
        try:
            payload = jwt.api_jws.decode(token, self._public_key, algorithms=[ALGORITHM])
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError(REASON_BAD_SIGNATURE, "the token's signature is not valid") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(REASON_MALFORMED, "the token is not a well-formed JWT") from exc
        try:
            claims = json.loads(payload)
        except ValueError as exc:
            raise InvalidTokenError(REASON_MALFORMED, "the token's payload is not JSON") from exc
        if not isinstance(claims, dict):
            raise InvalidTokenError(REASON_MALFORMED, "the token's payload is not a JSON object")
        return claims

    @staticmethod
    def _check_claims(claims: dict[str, Any], now: float) -> None:
        if claims.get("iss") != ISSUER:
            raise InvalidTokenError(REASON_WRONG_ISSUER, "the token does not have a valid issuer")
        # aud, or client_id only when aud is absent (http-api-troubleshooting-jwt).
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if AUDIENCE not in audiences:
            raise InvalidTokenError(REASON_WRONG_AUDIENCE, "the token does not have a valid audience")
        exp = _numeric(claims, "exp")
        if exp is None:
            raise InvalidTokenError(REASON_MALFORMED, "the token has no exp claim")
        if exp <= now:
            raise InvalidTokenError(REASON_EXPIRED, "the token has expired")
        nbf = _numeric(claims, "nbf")
        iat = _numeric(claims, "iat")
        if (nbf is not None and nbf > now) or (iat is not None and iat > now):
            raise InvalidTokenError(REASON_NOT_YET_VALID, "the token is not valid yet")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidTokenError(REASON_MISSING_SUB, "the token has no sub claim")
