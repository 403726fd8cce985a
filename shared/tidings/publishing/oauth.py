"""OAuth 2.0 access-token refresh for the platforms whose user tokens expire: X, LinkedIn, YouTube
(Google) and TikTok.

Each platform's documented refresh_token grant: a form-encoded POST to its token endpoint with the
app's client credentials, answering a new access token, its lifetime (`expires_in`, seconds) and, where
the platform rotates them, a new refresh token (X and TikTok; LinkedIn answers the same one with its
remaining lifetime; Google answers none, so the one sent is kept). Facebook, Instagram and WhatsApp are
not refreshed: Meta Page and system-user tokens are long-lived and have no refresh_token grant, so such
an account is reconnected instead.

Failures are classified like any platform call: a refresh token the platform refuses (invalid_grant,
revoked, expired) is auth_expired with code `refresh_failed` (the user must reconnect the account);
rejected client credentials are permanent `oauth_client_misconfigured` (the operator must fix the
TIDINGS_*_CLIENT_* settings); 429 is rate_limited; 5xx and transport failures are retryable (a refresh
changes no post, so it is always safe to retry). No token, refresh token or client secret is ever put
in an error message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import json_body, parse_retry_after, redact, send
from tidings.core.platforms import REFRESHABLE_PLATFORMS, SPECS

_FORM = "application/x-www-form-urlencoded"
_ALIASES = {"x": "twitter"}
# OAuth error codes (RFC 6749 section 5.2, and TikTok's "Error Handling" page) that mean the app's
# client credentials are wrong, not the user's grant.
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
_RETRYABLE_ERRORS = frozenset({"server_error", "temporarily_unavailable", "internal_error"})
_RATE_ERRORS = frozenset({"rate_limit_exceeded", "slow_down"})


@dataclass(frozen=True)
class TokenGrant:
    """What a refresh answered. Tokens are left out of repr (and so of str)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scope: str | None = None


def needs_refresh(expires_at: datetime | None, now: datetime, margin_seconds: int) -> bool:
    """Whether a token expiring at `expires_at` should be refreshed now: it expires within
    `margin_seconds` (or already has). A token without a known expiry is never refreshed early."""
    return expires_at is not None and expires_at - now <= timedelta(seconds=margin_seconds)


@dataclass(frozen=True)
class _Client:
    """One platform's token endpoint and the app credentials to call it with."""

    platform: str
    url: str
    client_id: str
    client_secret: str
    id_setting: str
    secret_setting: str
    secret_required: bool = True

    @property
    def name(self) -> str:
        return SPECS[self.platform].label


class TokenRefresher:
    """Refreshes a user access token with the platform's refresh_token grant."""

    def __init__(self, settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK) -> None:
        self.settings = settings
        self.http = http
        self.clock = clock

    def supports(self, platform: str) -> bool:
        """True for the platforms whose access tokens are renewed with a refresh token."""
        return _canonical(platform) in REFRESHABLE_PLATFORMS

    def refresh(self, platform: str, refresh_token: str) -> TokenGrant:
        """A new access token for `refresh_token`. Raises PlatformCallError, classified."""
        name = _canonical(platform)
        if name not in REFRESHABLE_PLATFORMS:
            reason = (
                "Meta Page and system-user tokens are long-lived and have no refresh_token grant"
                if name in SPECS
                else "the platform has no OAuth 2.0 refresh here"
            )
            raise PlatformCallError(
                ErrorKind.PERMANENT,
                "refresh_not_supported",
                f"{platform} access tokens are not refreshed ({reason}); reconnect the account to "
                "replace an expired one",
            )
        client = self._client(name)
        missing = [
            setting
            for setting, value, required in (
                (client.id_setting, client.client_id, True),
                (client.secret_setting, client.client_secret, client.secret_required),
            )
            if required and not value
        ]
        if missing:
            raise PlatformCallError(
                ErrorKind.PERMANENT,
                "oauth_client_not_configured",
                f"{client.name} token refresh needs the app's OAuth client credentials: set "
                f"{' and '.join(missing)}",
            )
        if not refresh_token:
            raise PlatformCallError(
                ErrorKind.AUTH_EXPIRED,
                "refresh_failed",
                f"no {client.name} refresh token is stored for this account; reconnect the "
                f"{client.name} account",
            )
        form, headers = _request(client, refresh_token)
        basic = headers.get("Authorization", "").removeprefix("Basic ")
        secrets = (refresh_token, client.client_secret, basic)
        try:
            response = send(
                self.http, "POST", client.url, token=refresh_token, mutating=False, data=form, headers=headers
            )
        except PlatformCallError as exc:  # transport failure: a refresh is always safe to retry
            raise _error(
                ErrorKind.RETRYABLE if exc.kind is ErrorKind.UNKNOWN_OUTCOME else exc.kind,
                exc.code,
                f"{client.name} token refresh failed: {exc.message}",
                secrets,
                status=exc.status,
            ) from None
        body = json_body(response)
        access = body.get("access_token")
        if response.is_success and isinstance(access, str) and access and not body.get("error"):
            return self._grant(body, access, refresh_token)
        raise self._failure(client, response, body, secrets)

    def _grant(self, body: dict[str, Any], access: str, refresh_token: str) -> TokenGrant:
        lifetime = _seconds(body.get("expires_in"))
        renewed = body.get("refresh_token")
        scope = body.get("scope")
        return TokenGrant(
            access_token=access,
            refresh_token=renewed if isinstance(renewed, str) and renewed else refresh_token,
            expires_at=self.clock.now() + timedelta(seconds=lifetime) if lifetime is not None else None,
            scope=scope if isinstance(scope, str) and scope else None,
        )

    def _failure(
        self,
        client: _Client,
        response: httpx.Response,
        body: dict[str, Any],
        secrets: tuple[str | None, ...],
    ) -> PlatformCallError:
        status = response.status_code
        error = body.get("error")
        if isinstance(error, dict):  # a platform that wraps its errors ({"error": {"code", "message"}})
            description = error.get("message") or error.get("description")
            error = error.get("code")
        else:
            description = body.get("error_description")
        code = str(error).strip() if isinstance(error, str | int) and str(error).strip() else None
        said = f"{code}: {description}" if code and description else (code or f"HTTP {status}")
        if status == 429 or code in _RATE_ERRORS:
            return _error(
                ErrorKind.RATE_LIMITED,
                "refresh_rate_limited",
                f"{client.name} throttled the token refresh ({said})",
                secrets,
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After"), self.clock.now()),
            )
        if status >= 500 or code in _RETRYABLE_ERRORS:
            return _error(
                ErrorKind.RETRYABLE,
                "refresh_unavailable",
                f"{client.name} could not refresh the token just now ({said})",
                secrets,
                status=status,
            )
        if code in _CLIENT_ERRORS or (code is None and status == 401):
            settings = f"{client.id_setting} and {client.secret_setting}"
            return _error(
                ErrorKind.PERMANENT,
                "oauth_client_misconfigured",
                f"{client.name} rejected Tidings' OAuth client credentials ({said}); the operator must "
                f"check {settings} against the app registered with {client.name}",
                secrets,
                status=status,
            )
        if code is not None and (400 <= status < 500 or response.is_success):
            return _error(
                ErrorKind.AUTH_EXPIRED,
                "refresh_failed",
                f"{client.name} refused the stored refresh token ({said}); reconnect the {client.name} "
                "account to authorize Tidings again",
                secrets,
                status=status,
            )
        if response.is_success:  # 2xx without an access token: a garbled answer, safe to ask again
            return _error(
                ErrorKind.RETRYABLE,
                "refresh_bad_answer",
                f"{client.name} answered the token refresh without an access token",
                secrets,
                status=status,
            )
        return _error(
            ErrorKind.PERMANENT,
            "refresh_rejected",
            f"{client.name} rejected the token refresh ({said})",
            secrets,
            status=status,
        )

    def _client(self, platform: str) -> _Client:
        s = self.settings
        if platform == "twitter":
            # docs.x.com "OAuth 2.0 Authorization Code Flow with PKCE", step 5: POST
            # https://api.x.com/2/oauth2/token, form refresh_token, grant_type=refresh_token, client_id;
            # confidential clients authenticate with HTTP Basic (client_id:client_secret). The answer
            # carries a new refresh_token (rotated), expires_in and scope.
            return _Client(
                platform,
                f"{s.x_api_base.rstrip('/')}/2/oauth2/token",
                s.x_client_id,
                s.x_client_secret,
                "TIDINGS_X_CLIENT_ID",
                "TIDINGS_X_CLIENT_SECRET",
                secret_required=False,  # a public client sends client_id alone
            )
        if platform == "linkedin":
            # learn.microsoft.com/linkedin/shared/authentication/programmatic-refresh-tokens: POST
            # https://www.linkedin.com/oauth/v2/accessToken, form grant_type=refresh_token, refresh_token,
            # client_id, client_secret; answers access_token, expires_in, refresh_token,
            # refresh_token_expires_in (the refresh token's TTL keeps running from the first grant).
            return _Client(
                platform,
                f"{s.linkedin_oauth_base.rstrip('/')}/oauth/v2/accessToken",
                s.linkedin_client_id,
                s.linkedin_client_secret,
                "TIDINGS_LINKEDIN_CLIENT_ID",
                "TIDINGS_LINKEDIN_CLIENT_SECRET",
            )
        if platform == "youtube":
            # developers.google.com/identity/protocols/oauth2/web-server#offline: POST
            # https://oauth2.googleapis.com/token, form client_id, client_secret, refresh_token,
            # grant_type=refresh_token; answers access_token, expires_in, scope, token_type and no new
            # refresh token.
            return _Client(
                platform,
                f"{s.google_oauth_base.rstrip('/')}/token",
                s.google_client_id,
                s.google_client_secret,
                "TIDINGS_GOOGLE_CLIENT_ID",
                "TIDINGS_GOOGLE_CLIENT_SECRET",
            )
        # developers.tiktok.com "Refresh a User Access Token": POST
        # https://open.tiktokapis.com/v2/oauth/token/, form client_key, client_secret,
        # grant_type=refresh_token, refresh_token; answers access_token, expires_in, refresh_token
        # (rotated: the previous one stops working), refresh_expires_in, open_id, scope, token_type.
        # Errors ("Error Handling", OAuth): {"error", "error_description", "log_id"}.
        return _Client(
            platform,
            f"{s.tiktok_api_base.rstrip('/')}/v2/oauth/token/",
            s.tiktok_client_key,
            s.tiktok_client_secret,
            "TIDINGS_TIKTOK_CLIENT_KEY",
            "TIDINGS_TIKTOK_CLIENT_SECRET",
        )


def _canonical(platform: str) -> str:
    name = str(platform).strip().lower()
    return _ALIASES.get(name, name)


def _request(client: _Client, refresh_token: str) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of one refresh_token grant."""
    headers = {"Content-Type": _FORM, "Accept": "application/json"}
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if client.platform == "twitter":
        form["client_id"] = client.client_id
        if client.client_secret:
            pair = f"{client.client_id}:{client.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif client.platform == "tiktok":
        form.update(client_key=client.client_id, client_secret=client.client_secret)
    else:
        form.update(client_id=client.client_id, client_secret=client.client_secret)
    return form, headers


def _seconds(value: Any) -> float | None:
    """`expires_in` as seconds: a number or a numeric string (some servers send strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number >= 0 else None
    return None


def _error(
    kind: ErrorKind,
    code: str,
    message: str,
    secrets: tuple[str | None, ...],
    *,
    status: int | None = None,
    retry_after: float | None = None,
) -> PlatformCallError:
    """A classified error whose code and message contain none of the secrets (a platform that echoes
    the refresh token or the client secret in its error description cannot leak it)."""
    return PlatformCallError(
        kind,
        redact(code, *secrets),
        redact(message, *secrets),
        retry_after=retry_after,
        status=status,
    )
