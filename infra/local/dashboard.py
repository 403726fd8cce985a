"""The dashboard under `tidings dev`: the built app, its config.json and its sign-in, on the local
API's origin (so the app calls the API with no CORS in between).

- `GET /dashboard/...` serves dashboard/dist (what `make setup` builds); `GET /dashboard/config.json`
  tells the app where the API and its live updates are and that it signs in locally.
- Sign-in links: `tidings dev` prints one for the sample user and `tidings login USER` one for any
  user, `<api>/dashboard/?code=<code>`. A code names its user, is signed with a key kept in the state
  directory (0600), lasts `CODE_TTL_SECONDS` and is taken once; codes made before the running stack
  started are refused too (the stack keeps the spent ones in memory only).
- `POST /dashboard/oauth2/token` exchanges a code (`grant_type=authorization_code`) or a refresh token
  (`grant_type=refresh_token`) for an access token, answering as Cognito's /oauth2/token does, so
  the app's sign-in code is the same locally and on AWS. The app keeps the tokens in memory only.
- Every file goes with the security headers CloudFront adds on AWS (infra/dashboard_headers.py), the
  Content-Security-Policy naming the live WebSocket's URL: the app runs under the same policy here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl

from infra.dashboard_headers import content_security_policy, security_headers
from infra.local.api_gateway import HttpRequest, HttpResponse
from infra.local.auth import LocalAuth
from infra.local.state import secret_file
from tidings.api.limits import SUBJECT

PREFIX = "/dashboard"
DIST = Path(__file__).resolve().parents[2] / "dashboard" / "dist"
KEY_FILE = "sign-in-key"
CODE_TTL_SECONDS = 600  # a printed link works for 10 minutes, once
ACCESS_TTL_SECONDS = 3600  # the app renews its token before this
REFRESH_TTL_SECONDS = 12 * 3600


class InvalidCode(Exception):
    pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignInCodes:
    """Single-use, short-lived sign-in codes. `issue` works in any process on the state directory
    (`tidings login`); `redeem` in the running stack, which remembers the codes it took."""

    def __init__(self, state_dir: Path, started_at: float | None = None) -> None:
        self._key = secret_file(Path(state_dir) / KEY_FILE, lambda: secrets.token_bytes(32))
        self._started_at = time.time() if started_at is None else started_at
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, user_id: str, ttl_seconds: int = CODE_TTL_SECONDS) -> str:
        if not SUBJECT.match(user_id):
            raise ValueError(
                "a user id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        claims = {
            "sub": user_id,
            "iat": time.time(),
            "exp": time.time() + ttl_seconds,
            "n": secrets.token_hex(8),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def redeem(self, code: str) -> str:
        """The code's user; InvalidCode when it is altered, expired, made before this stack started,
        or already taken."""
        payload, _, signature = code.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCode("the sign-in link is not valid")
        try:
            claims = json.loads(_unb64(payload))
            user, issued, expires = str(claims["sub"]), float(claims["iat"]), float(claims["exp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidCode("the sign-in link is not valid") from exc
        now = time.time()
        if expires <= now:
            raise InvalidCode("the sign-in link has expired")
        if issued < self._started_at:
            raise InvalidCode("the sign-in link was made for an earlier run of tidings dev")
        with self._lock:
            self._spent = {k: v for k, v in self._spent.items() if v > now}
            if code in self._spent:
                raise InvalidCode("the sign-in link was already used")
            self._spent[code] = expires
        return user


def _json(status: int, body: object, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    data = json.dumps(body, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json"), *(headers or [])], data)


def _oauth_error(error: str, description: str, status: int = 400) -> HttpResponse:
    return _json(status, {"error": error, "error_description": description})


class DashboardSite:
    """What `LocalHttpApi` answers under /dashboard before its routes: static files, config.json and
    the token endpoint."""

    def __init__(
        self, api_url: str, auth: LocalAuth, codes: SignInCodes, dist: Path = DIST, live_url: str = ""
    ) -> None:
        self.api_url = api_url
        self.live_url = live_url
        self.url = f"{api_url}{PREFIX}/"
        self._auth = auth
        self._codes = codes
        self._dist = dist.resolve()
        self._refresh: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.headers = security_headers(content_security_policy(connect=[live_url] if live_url else []))

    def sign_in_link(self, user_id: str) -> str:
        return f"{self.url}?code={self._codes.issue(user_id)}"

    def __call__(self, request: HttpRequest, path: str) -> HttpResponse | None:
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        if path == PREFIX:
            return HttpResponse(302, [("location", self.url)])
        if path == f"{PREFIX}/oauth2/token":
            if request.method != "POST":
                return _oauth_error("invalid_request", "POST the token request", 405)
            return self._token(request.body)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, [("allow", "GET, HEAD")])
        if path == f"{PREFIX}/config.json":
            config: dict[str, object] = {
                "apiUrl": self.api_url,
                "auth": {
                    "kind": "local",
                    "tokenUrl": f"{self.api_url}{PREFIX}/oauth2/token",
                    "loginCommand": "tidings login USER",
                },
            }
            if self.live_url:  # the live updates' WebSocket (infra.local.websocket_api)
                config["liveUrl"] = self.live_url
            return _json(200, config, [("cache-control", "no-store")])
        return self._file(path[len(PREFIX) + 1 :] or "index.html")

    def _file(self, relative: str) -> HttpResponse:
        index = self._dist / "index.html"
        if not index.is_file():
            text = b"The dashboard is not built: run `make setup` (make dev and make test build it).\n"
            return HttpResponse(503, [("content-type", "text/plain; charset=utf-8")], text)
        target = (self._dist / relative).resolve()
        if not target.is_relative_to(self._dist) or not target.is_file():
            return HttpResponse(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found\n")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        # Hashed assets never change; index.html always asks again.
        cache = "public, max-age=31536000, immutable" if relative.startswith("assets/") else "no-cache"
        headers = [("content-type", kind), ("cache-control", cache), *self.headers]
        return HttpResponse(200, headers, target.read_bytes())

    def _token(self, body: bytes) -> HttpResponse:
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        grant = form.get("grant_type")
        now = time.time()
        if grant == "authorization_code":
            try:
                user = self._codes.redeem(form.get("code", ""))
            except InvalidCode as exc:
                return _oauth_error("invalid_grant", str(exc))
            refresh = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh = {k: v for k, v in self._refresh.items() if v[1] > now}
                self._refresh[refresh] = (user, now + REFRESH_TTL_SECONDS)
        elif grant == "refresh_token":
            with self._lock:
                user, expires = self._refresh.get(form.get("refresh_token", ""), ("", 0.0))
            if expires <= now:
                return _oauth_error("invalid_grant", "the refresh token is not valid")
            refresh = ""
        else:
            return _oauth_error(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
            )
        answer: dict[str, object] = {
            "access_token": self._auth.issue_token(user, ttl_seconds=ACCESS_TTL_SECONDS),
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL_SECONDS,
        }
        if refresh:  # as Cognito: a refresh grant answers no new refresh token
            answer["refresh_token"] = refresh
        return _json(200, answer, [("cache-control", "no-store")])
