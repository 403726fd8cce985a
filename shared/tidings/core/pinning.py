"""The transport of the guarded client (`tidings.core.fetch`): httpx's own transport over a connection
pool whose connections are opened to an address the network guard has just checked (the pin), and
whose answers are capped while they stream. Imported only when a guarded client is made."""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator

import httpcore
import httpx

from tidings.core.fetch import DEFAULT_MAX_BYTES, MAX_BYTES, Refused
from tidings.core.netguard import Resolver, resolve_public, system_resolve


class GuardedBackend(httpcore.NetworkBackend):
    """Opens each connection to an address it has just checked (the pin); `inner` makes the socket."""

    def __init__(
        self, *, allow_private: bool, resolve: Resolver, inner: httpcore.NetworkBackend | None = None
    ) -> None:
        self.allow_private = allow_private
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
        addresses = [host] if self.allow_private else self._checked(host)
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
    ) -> None:
        limits = limits or httpx.Limits(max_connections=50, max_keepalive_connections=16)
        # HTTPTransport's constructor only builds its pool; this one builds the pool with the guard.
        self.allow_private = allow_private
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(
                allow_private=allow_private, resolve=resolve or system_resolve, inner=inner
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
