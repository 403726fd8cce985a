"""The one way Tidings fetches a URL a user gave (media, links, webhooks, notifications, CRM URLs):
an httpx client whose transport applies the network guard (`tidings.core.netguard`) where it cannot
be side-stepped.

- Only https (http too with ``allow_private_links``, the local runtime's setting), on every hop.
  With that setting the local runtime's own ports stay out of reach (`netguard.resolve_private`),
  checked at the connection like a public address is.
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

import ssl
from collections.abc import Collection, Iterable, Iterator
from typing import TYPE_CHECKING

import httpx

from tidings.core.netguard import Resolver, resolve_private, resolve_public, system_resolve

if TYPE_CHECKING:  # httpcore loads when a client is made, not when this module is imported
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


class GuardedBackend:
    """An httpcore network backend (duck-typed, so httpcore loads only when a client is made) that
    opens each connection to an address it has just checked (the pin); `inner` makes the socket."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver,
        inner: httpcore.NetworkBackend | None = None,
        denied_ports: Collection[int] | None = None,
    ) -> None:
        import httpcore

        self.allow_private = allow_private
        # The local runtime's ports (None: the setting's, read at each connection).
        self.denied_ports = denied_ports
        self.resolve = resolve
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        import httpcore

        addresses = self._checked_private(host, port) if self.allow_private else self._checked(host)
        last: Exception = httpcore.ConnectError("the server could not be reached")
        for address in addresses:
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectTimeout:
                last = httpcore.ConnectTimeout("the server did not answer in time")
            except (httpcore.ConnectError, OSError):
                last = httpcore.ConnectError("the server could not be reached")
        raise last

    def _checked(self, host: str) -> list[str]:
        try:
            return resolve_public(host, self.resolve)
        except LookupError:
            raise Refused("host_not_found", "the host was not found") from None
        except ValueError as exc:
            raise Refused("url_refused", f"the URL leads to a {exc}") from None

    def _checked_private(self, host: str, port: int) -> list[str]:
        try:
            return resolve_private(host, port, self.resolve, self.denied_ports)
        except LookupError:
            raise Refused("host_not_found", "the host was not found") from None
        except ValueError as exc:
            raise Refused("url_refused", f"the URL leads to a {exc}") from None

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport over a connection pool whose connections the `GuardedBackend` opens."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver | None = None,
        inner: httpcore.NetworkBackend | None = None,
        limits: httpx.Limits | None = None,
        ssl_context: ssl.SSLContext | None = None,
        denied_ports: Collection[int] | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=50, max_keepalive_connections=16)
        import httpcore

        # HTTPTransport's constructor only builds its pool; this one builds the pool with the guard.
        self.allow_private = allow_private
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(  # type: ignore[arg-type]  # duck-typed NetworkBackend
                allow_private=allow_private,
                resolve=resolve or system_resolve,
                inner=inner,
                denied_ports=denied_ports,
            ),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme != "https" and not (self.allow_private and scheme == "http"):
            raise Refused("url_refused", "only https URLs may be fetched")
        response = super().handle_request(request)
        cap = int(request.extensions.get(MAX_BYTES, DEFAULT_MAX_BYTES))
        length = response.headers.get("Content-Length", "")
        problem = None
        if request.method != "HEAD" and length.isdigit() and int(length) > cap:
            problem = Refused("too_large", f"the answer is larger than {cap} bytes")
        elif response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            problem = Refused("unexpected_encoding", "the answer is compressed though it was asked not to be")
        if problem is not None:
            response.close()
            raise problem
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Capped(response.stream, cap),
            extensions=response.extensions,
        )


class _Capped(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, cap: int) -> None:
        self._inner = inner
        self._cap = cap

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._cap:
                raise Refused("too_large", f"the answer is larger than {self._cap} bytes")
            yield chunk

    def close(self) -> None:
        self._inner.close()


def guarded_client(
    *,
    allow_private: bool,
    timeout: float,
    user_agent: str,
    resolve: Resolver | None = None,
    inner: httpcore.NetworkBackend | None = None,
    denied_ports: Collection[int] | None = None,
) -> httpx.Client:
    """A client for user-given URLs (see the module doc). Redirects are off unless a request asks;
    `resolve`, `inner` (the socket maker) and `denied_ports` (the local runtime's ports, else the
    setting's) are for tests."""
    transport = GuardedTransport(
        allow_private=allow_private, resolve=resolve, inner=inner, denied_ports=denied_ports
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )
