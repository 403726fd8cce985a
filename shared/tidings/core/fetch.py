"""The one way Tidings fetches a URL a user gave (media, links, webhooks, notifications, CRM URLs):
an httpx client whose transport applies the network guard (`tidings.core.netguard`) where it cannot
be side-stepped.

- Only https (http too with ``allow_private_links``, the local runtime's setting), on every hop.
- The host is resolved once, when the connection is made; every address is checked and the socket
  is opened to a checked address, while the Host header, TLS SNI and the certificate check keep the
  URL's name. A DNS answer that changes between the check and the connection (rebinding) therefore
  changes nothing: there is no second lookup.
- Redirects are followed only where the caller asks, at most `MAX_REDIRECTS`, and each hop goes
  through the same transport, so each is checked like the first URL.
- A body may not exceed the request's cap (the `MAX_BYTES` request extension; `DEFAULT_MAX_BYTES`
  otherwise): a larger Content-Length is refused before reading, and the count is kept while
  streaming, so a body without a Content-Length stops at the cap. Bodies are asked for without
  compression and an encoded one is refused, so the cap counts what the caller gets.
- Failures say what happened in a fixed, machine-readable way (`failure`): never an address a name
  resolved to, a port, or the operating system's error text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tidings.core.netguard import Resolver

if TYPE_CHECKING:
    import httpcore

MAX_BYTES = "tidings.max_bytes"  # request extension: the most body bytes the answer may have
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5


class Refused(httpx.RequestError):
    """A fetch the guard stopped. `code`: url_refused (a scheme or address that is not allowed),
    host_not_found, too_large, unexpected_encoding. The message names no address or port."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# What a fetch through the guarded client can raise (httpx refuses some URLs before any transport).
FETCH_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


def failure(exc: httpx.HTTPError | httpx.InvalidURL) -> tuple[str, str]:
    """(code, message) for a failed fetch, the same words whatever the OS or the server said:
    a `Refused` code, or too_many_redirects, timeout, unreachable."""
    if isinstance(exc, Refused):
        return exc.code, str(exc)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "url_refused", "the URL is not a valid https URL"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too_many_redirects", f"more than {MAX_REDIRECTS} redirects"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", "the server did not answer in time"
    return "unreachable", "the server could not be reached"


def guarded_client(
    *,
    allow_private: bool,
    timeout: float,
    user_agent: str,
    resolve: Resolver | None = None,
    inner: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """A client for user-given URLs (see the module doc). Redirects are off unless a request asks;
    `resolve` and `inner` (the socket maker) are for tests."""
    from tidings.core.pinning import GuardedTransport  # httpcore only when a client is made

    return httpx.Client(
        transport=GuardedTransport(allow_private=allow_private, resolve=resolve, inner=inner),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )
