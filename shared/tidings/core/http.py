"""The one place the platform clients talk HTTP: the pooled client, timeouts, how a transport failure
is classified, Retry-After parsing, and keeping access tokens out of every error message.

Transport failures are classified by whether the platform may have applied the call:

- the connection was never made (connect error or timeout, no free pooled connection, proxy refused):
  the request was not sent, so a retry cannot post twice -> ``retryable``;
- the request was sent but no answer came (read timeout, the server closed the connection without a
  response, a reset while writing or reading): the platform may have applied it -> ``unknown_outcome``,
  and the publish step reads back from the platform before any retry.

Reads (read-backs, status polls) change nothing on the platform, so every transport failure of a read
is ``retryable``.
"""

from __future__ import annotations

import email.utils
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tidings import __version__
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.fetch import FETCH_ERRORS, MAX_BYTES, Refused, failure, guarded_client
from tidings.core.platforms import Platform, media_max_bytes

USER_AGENT = f"tidings/{__version__}"

# A read-back looks for posts created at or after the attempt started, minus this allowance for the
# difference between our clock and the platform's (platform timestamps are often whole seconds).
READBACK_SKEW = timedelta(seconds=30)

_REDACTED = "[redacted]"


def default_http_client(settings: Settings) -> httpx.Client:
    """A pooled client for every platform call: one per process, shared by all clients."""
    timeout = settings.http_timeout_seconds
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=64, keepalive_expiry=5.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


def guarded_http_client(settings: Settings, *, timeout: float | None = None) -> httpx.Client:
    """The client for URLs a user gave (`tidings.core.fetch`), guarded as this deployment says."""
    return guarded_client(
        allow_private=settings.allow_private_links,
        timeout=timeout or settings.http_timeout_seconds,
        user_agent=USER_AGENT,
    )


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every secret replaced, so a platform that echoes a token cannot leak it."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def call_error(
    kind: ErrorKind,
    code: str | int,
    message: str,
    *,
    token: str | None,
    status: int | None = None,
    retry_after: float | None = None,
) -> PlatformCallError:
    """A classified error whose message never contains the access token."""
    return PlatformCallError(
        kind, redact(str(code), token), redact(message, token), retry_after=retry_after, status=status
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def seconds_until_epoch(value: str | None, now: datetime) -> float | None:
    """Seconds from `now` until an epoch-seconds header value (X's x-rate-limit-reset)."""
    if value is None:
        return None
    try:
        reset = float(value.strip())
    except ValueError:
        return None
    return max(0.0, reset - now.timestamp())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when the body is empty or not a JSON object."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def status_kind(status: int) -> ErrorKind:
    """The kind of an HTTP failure when the platform's body says nothing more specific."""
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 401:
        return ErrorKind.AUTH_EXPIRED
    if status == 504:
        # A gateway gave up waiting for the platform's backend, which may still have applied the call.
        return ErrorKind.UNKNOWN_OUTCOME
    if status >= 500 or status == 408:
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
_BAD_REQUEST = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    token: str | None,
    mutating: bool,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP call. Transport failures become a classified PlatformCallError (see the module doc);
    HTTP error statuses are returned for the platform's own classification."""
    try:
        response = http.request(method, url, **kwargs)
    except Refused as exc:  # the guarded client (tidings.core.fetch) stopped it
        raise call_error(_refused_kind(exc, mutating), exc.code, str(exc), token=token) from None
    except _NOT_SENT as exc:
        raise _transport_error(ErrorKind.RETRYABLE, "connect_failed", exc, token) from None
    except _BAD_REQUEST as exc:
        raise _transport_error(ErrorKind.PERMANENT, "bad_request", exc, token) from None
    except httpx.TimeoutException as exc:  # read or write timeout: the request went out
        kind = ErrorKind.UNKNOWN_OUTCOME if mutating else ErrorKind.RETRYABLE
        raise _transport_error(kind, "timeout", exc, token) from None
    except httpx.TransportError as exc:  # closed without an answer, reset while writing or reading
        kind = ErrorKind.UNKNOWN_OUTCOME if mutating else ErrorKind.RETRYABLE
        raise _transport_error(kind, "connection_lost", exc, token) from None
    observer = _observer.get()
    if observer is not None:
        observer(response)
    return response


# Whoever publishes can watch every answer's headers (rate-limit usage) without each client knowing.
_observer: ContextVar[Callable[[httpx.Response], None] | None] = ContextVar(
    "tidings_http_observer", default=None
)


@contextmanager
def observing(callback: Callable[[httpx.Response], None]) -> Iterator[None]:
    """Calls `callback` with every platform answer received in this context (this thread)."""
    token = _observer.set(callback)
    try:
        yield
    finally:
        _observer.reset(token)


def _refused_kind(exc: Refused, mutating: bool) -> ErrorKind:
    if exc.code == "host_not_found":  # nothing was sent, and a name may resolve later
        return ErrorKind.RETRYABLE
    if exc.code in ("too_large", "unexpected_encoding") and mutating:  # it went out; the answer was refused
        return ErrorKind.UNKNOWN_OUTCOME
    return ErrorKind.PERMANENT


def _transport_error(kind: ErrorKind, code: str, exc: Exception, token: str | None) -> PlatformCallError:
    detail = str(exc) or type(exc).__name__
    return call_error(kind, code, f"{type(exc).__name__}: {detail}", token=token)


@dataclass(frozen=True)
class Media:
    """A media file fetched from the post's media URL, streamed rather than held in memory."""

    url: str
    content_type: str
    length: int | None
    chunks: Iterator[bytes]


class ChunkReader:
    """Reads exact byte counts from a stream of chunks of any size (for multi-part uploads)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer.extend(chunk)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def parts(self, size: int) -> Iterator[bytes]:
        """Consecutive parts of `size` bytes (the last one shorter) until the stream ends."""
        while part := self.read(size):
            yield part


def sized(media: Media) -> tuple[int, ChunkReader]:
    """The media's size and a reader over its bytes. A stream of unknown length is first staged in a
    temporary file (in memory up to `STAGING_MEMORY_BYTES`, on disk beyond), at most
    `STAGING_MAX_BYTES`, so memory stays bounded whatever the file's size."""
    if media.length is not None:
        return media.length, ChunkReader(media.chunks)
    staged = tempfile.SpooledTemporaryFile(max_size=STAGING_MEMORY_BYTES)  # noqa: SIM115 (read later)
    total = 0
    for chunk in media.chunks:
        total += len(chunk)
        if total > STAGING_MAX_BYTES:
            staged.close()
            raise call_error(
                ErrorKind.PERMANENT,
                "media_too_large",
                f"media {media.url} has no Content-Length and is larger than {STAGING_MAX_BYTES} bytes",
                token=None,
            )
        staged.write(chunk)
    staged.seek(0)
    return total, ChunkReader(iter(lambda: staged.read(_STAGED_READ), b""))


# Media whose server does not say its length: how much of it is held in memory, and the most staged
# (a function's /tmp is 512 MB unless configured otherwise).
STAGING_MEMORY_BYTES = 8 * 1024 * 1024
STAGING_MAX_BYTES = 384 * 1024 * 1024
_STAGED_READ = 1024 * 1024

# What a refused media fetch (tidings.core.fetch.failure) becomes: the post's error code and kind.
_MEDIA_FAILURES = {
    "url_refused": ("media_url_refused", ErrorKind.PERMANENT),
    "too_many_redirects": ("media_url_refused", ErrorKind.PERMANENT),
    "too_large": ("media_too_large", ErrorKind.PERMANENT),
    "unexpected_encoding": ("media_unavailable", ErrorKind.PERMANENT),
}


@contextmanager
def fetch_media(http: httpx.Client, url: str, *, max_bytes: int) -> Iterator[Media]:
    """Open the media at `url` for upload, through `http`, the guarded client for user URLs
    (`tidings.core.fetch`): redirects are followed, each hop checked, and at most `max_bytes` are
    read. No credentials are sent: media URLs are public. A refused URL, a file over the cap or a
    missing file is permanent (the post cannot be published as written); a server error or a
    transport failure is retryable. Errors name the user's URL and a fixed reason, nothing else."""
    try:
        with http.stream("GET", url, follow_redirects=True, extensions={MAX_BYTES: max_bytes}) as response:
            if response.status_code >= 300:
                status = response.status_code
                kind = ErrorKind.RETRYABLE if status >= 500 else ErrorKind.PERMANENT
                message = f"media {url} answered HTTP {status}"
                raise call_error(kind, "media_unavailable", message, token=None, status=status)
            length = response.headers.get("Content-Length")
            yield Media(
                url=url,
                content_type=response.headers.get("Content-Type", "application/octet-stream").split(";")[0],
                length=int(length) if length and length.isdigit() else None,
                chunks=response.iter_bytes(),
            )
    except FETCH_ERRORS as exc:
        reason, message = failure(exc)
        code, kind = _MEDIA_FAILURES.get(reason, ("media_unavailable", ErrorKind.RETRYABLE))
        raise call_error(kind, code, f"media {url}: {message}", token=None) from None


class MediaSource:
    """Where a publishing client reads a post's media: the guarded client for user URLs (made from the
    settings on first use unless given), with the platform's cap for the media's kind."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._settings = settings
        self._http = http

    @contextmanager
    def open(self, platform: Platform, url: str) -> Iterator[Media]:
        if self._http is None:
            self._http = guarded_http_client(self._settings)
        with fetch_media(self._http, url, max_bytes=media_max_bytes(platform, url)) as media:
            yield media
