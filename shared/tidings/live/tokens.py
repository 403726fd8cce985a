"""The access token a live connection opens with, checked as API Gateway's JWT authorizer checks the
HTTP API's.

A WebSocket API has no JWT authorizer (its authorizers are Lambda REQUEST authorizers, for $connect
only: API Gateway Developer Guide, "Control access to WebSocket APIs with AWS Lambda REQUEST
authorizers"), and a browser's WebSocket cannot send an Authorization header, so the dashboard sends
its access token as the `token` query parameter of the connection URL and the $connect integration
checks it; API Gateway makes no connection when $connect answers anything but 2xx ("Work with the
$connect and $disconnect routes"). The checks are those of the Cognito user pool's access tokens
(Amazon Cognito Developer Guide, "Verifying a JSON Web Token"): an RS256 signature by a key of the
pool's JWKS named by the token's `kid`, `iss` the pool, `token_use` `access`, `client_id` one of the
app clients, `exp` after now; the user is `sub`, which must be an id the API accepts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from tidings.core.errors import Unauthorized
from tidings.core.users import SUBJECT

ALGORITHM = "RS256"
# PyJWT's client keeps the key set this long before reading it again (a key it does not know is read
# at once: Cognito rotates keys by adding one).
JWKS_CACHE_SECONDS = 3600


def refused(why: str) -> Unauthorized:
    return Unauthorized(f"the live connection's token was refused: {why}", code="invalid_token")


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    client_ids: frozenset[str]
    jwks_url: str


class TokenVerifier:
    """Checks access tokens against one issuer's key set (fetched from `jwks_url`, then kept)."""

    def __init__(self, rules: TokenRules, key_client: Any = None) -> None:
        self.rules = rules
        self._client: Any = key_client  # a jwt.PyJWKClient (made on first use when not given)
        self._lock = threading.Lock()

    def _keys(self) -> Any:
        import jwt  # PyJWT: loaded on a $connect only, not with the handler

        with self._lock:
            if self._client is None:
                self._client = jwt.PyJWKClient(
                    self.rules.jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5
                )
            return self._client

    def user_of(self, token: str | None) -> str:
        """The token's user (`sub`); Unauthorized `invalid_token` naming what was wrong."""
        import jwt

        if not token:
            raise refused("no token was given")
        if not self.rules.issuer or not self.rules.client_ids or not self.rules.jwks_url:
            raise refused("live updates are not configured")
        try:
            key = self._keys().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise refused("the issuer's keys could not be read") from None
        except jwt.PyJWTError:
            raise refused("the token is not signed by a key of the issuer") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                issuer=self.rules.issuer,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise refused("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise refused("the token does not have a valid issuer") from None
        except jwt.PyJWTError:
            raise refused("the token is not a valid access token") from None
        if claims.get("token_use") != "access":
            raise refused("the token is not an access token")
        if claims.get("client_id") not in self.rules.client_ids:
            raise refused("the token was not issued to an app client of Tidings")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not SUBJECT.match(sub):
            raise refused("the token's subject is not a user id")
        if float(claims["exp"]) <= time.time():  # PyJWT checked it; this keeps it explicit
            raise refused("the token has expired")
        return sub
