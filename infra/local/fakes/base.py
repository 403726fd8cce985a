"""The HTTP server under the local fakes and the local API gateway: one threaded server, started and
stopped in-process (or used as a context manager, or run as a process until a signal), with kept-alive
connections that end with the server; the request as the routes read it; replies in JSON or bytes; and
the fault hooks the fakes inject (a server error, a throttle, a held call, a lost answer).

A server is a `LocalHttpServer` subclass whose `respond(request)` returns a `Reply`, or `DROP` to
close the connection without answering. Its hooks: `body_too_large()` and `bad_request()` (a body over
`max_body_bytes`, a malformed length or chunk), `crashed(request, exc)` (an exception in `respond`),
and `answered(method, target, status, elapsed_ms)`, called before each answer goes out.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

# -- requests and replies --------------------------------------------------------------------------


@dataclass
class Request:
    """A request as a server's routes read it."""

    method: str
    target: str  # as received: the raw path, then `?` and the raw query string
    path: str
    segments: list[str]  # the path's parts, unquoted
    query: dict[str, str]  # a repeated parameter keeps its last value (see `query_values`)
    query_pairs: list[tuple[str, str]]
    headers: Message
    body: bytes
    base_url: str  # http://host:port, as the client addressed the server
    client_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def query_values(self, name: str) -> list[str]:
        """Every value of a query parameter, in order (`?a=1&a=2`)."""
        return [value for key, value in self.query_pairs if key == name]

    def credentials(self, scheme: str) -> str | None:
        """What follows `scheme` (e.g. "Bearer") in the Authorization header; None for another scheme."""
        auth = (self.headers.get("Authorization") or "").strip()
        name, _, rest = auth.partition(" ")
        return rest.strip() if name.lower() == scheme.lower() and rest.strip() else None

    @property
    def bearer(self) -> str | None:
        return self.credentials("Bearer")

    @property
    def basic(self) -> tuple[str, str] | None:
        """(user, password) of HTTP Basic authentication; ("", "") when it cannot be decoded."""
        encoded = self.credentials("Basic")
        if encoded is None:
            return None
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "")
        user, _, password = decoded.partition(":")
        return user, password

    def json(self) -> Any:
        """The JSON body (an empty body reads as {}); None when it is not JSON."""
        try:
            return json.loads(self.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def json_object(self) -> dict[str, Any]:
        """The JSON body when it is an object, else {}."""
        data = self.json()
        return data if isinstance(data, dict) else {}

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def params(self) -> dict[str, str]:
        """Query parameters merged with a form or JSON body (as Graph reads them)."""
        merged = dict(self.query)
        content_type = (self.headers.get("Content-Type") or "").lower()
        if "application/json" in content_type:
            merged.update(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.json_object().items()}
            )
        elif self.body:
            merged.update(self.form())
        return merged


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list -> JSON, bytes -> as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # None: the server's JSON type for a JSON body, none for bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)  # more headers, repeats allowed


class Drop:
    """Close the connection without answering."""


DROP = Drop()
Outcome = Reply | Drop


class PayloadTooLarge(Exception):
    """A request body over the server's limit (read and dropped)."""


class MalformedRequest(Exception):
    """A request whose body cannot be framed (a bad Content-Length or chunk size)."""


# -- faults ----------------------------------------------------------------------------------------


class FaultKind(StrEnum):
    ERROR500 = "error500"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    LOST_RESPONSE = "lost_response"


@dataclass(frozen=True)
class ErrorAnswers:
    """How a service answers a server error and a throttle (given the seconds to wait)."""

    server_error: Callable[[], Reply]
    rate_limited: Callable[[int], Reply]


def with_fault(
    server: LocalHttpServer,
    fault: FaultKind | None,
    answers: ErrorAnswers,
    retry_after: int,
    apply: Callable[[], Outcome],
) -> Outcome:
    """Run one call through an injected fault: `error500` and `rate_limit` answer the service's own
    error instead; `timeout` holds the call past the client's patience and never applies it;
    `lost_response` applies it and closes the connection instead of answering a success."""
    if fault is FaultKind.ERROR500:
        return answers.server_error()
    if fault is FaultKind.RATE_LIMIT:
        return answers.rate_limited(retry_after)
    if fault is FaultKind.TIMEOUT:
        server.stopping.wait(server.hold_seconds)
        return DROP
    outcome = apply()
    if fault is FaultKind.LOST_RESPONSE and isinstance(outcome, Reply) and outcome.status < 300:
        return DROP
    return outcome


def take_fault_items(
    spec: str, names: Collection[str], kinds: Collection[str]
) -> tuple[str, list[tuple[str, str, float]]]:
    """A `--sandbox-faults` spec split in two: its `name:kind:rate` items whose name is one of `names`
    (as (name, kind, rate), both lower-cased), and the other items as a spec of their own. ValueError
    names a malformed item of `names`; the others are their own server's to check."""
    rest: list[str] = []
    taken: list[tuple[str, str, float]] = []
    for raw in spec.split(","):
        item = raw.strip()
        parts = [p.strip() for p in item.split(":")]
        name = parts[0].lower()
        if not item or name not in names:
            if item:
                rest.append(item)
            continue
        if len(parts) != 3 or parts[1].lower() not in kinds:
            raise ValueError(f"fault {item!r}: expected {name}:kind:rate, kind one of {', '.join(kinds)}")
        try:
            rate = float(parts[2])
        except ValueError:
            raise ValueError(f"fault {item!r}: rate {parts[2]!r} is not a number") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault {item!r}: rate {parts[2]} is outside 0..1")
        taken.append((name, parts[1].lower(), rate))
    return ",".join(rest), taken


# -- small shared parsers --------------------------------------------------------------------------


def iso_z(moment: float, *, millis: bool = True) -> str:
    spec = "milliseconds" if millis else "seconds"
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def parse_time(value: str) -> float | None:
    """Epoch seconds of an ISO 8601 / RFC 3339 time with a zone; None otherwise."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None


def int_param(value: Any, default: int) -> int | None:
    """An integer parameter (`default` when absent); None when it is not an integer."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def log_id() -> str:
    """A request id shaped like the ones Meta and TikTok put in their error bodies."""
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + f"{random.getrandbits(40):010X}"


# -- the server ------------------------------------------------------------------------------------


class LocalHttpServer:
    """A server: `start()`/`stop()` (or `with`), and `url` while it runs.

    Subclasses set `name` (how errors call it), `thread_name`, `backlog` (how many new connections may
    wait to be accepted: socketserver's default of 5 would refuse or reset a burst from a client's
    pool; the kernel caps it at net.core.somaxconn), `software` (the Server header), `json_type` (the
    Content-Type of JSON replies), `max_body_bytes` (None: no limit) and `hold_seconds` (how long a
    `timeout` fault holds a call), and implement `respond`.
    """

    name = "local HTTP server"
    thread_name = "local-http"
    backlog = 128
    software = "tidings-local"
    json_type = "application/json"
    max_body_bytes: int | None = None
    hold_seconds = 15.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what a subclass answers -----------------------------------------------------------------

    def respond(self, request: Request) -> Outcome:
        raise NotImplementedError

    def body_too_large(self) -> Reply:
        return Reply(413, {"error": "request body too large"}, {"Connection": "close"})

    def bad_request(self) -> Reply:
        return Reply(400, {"error": "malformed request"}, {"Connection": "close"})

    def crashed(self, request: Request, exc: Exception) -> Reply:
        """A bug in the server must answer, not hang the client."""
        return Reply(500, {"error": f"{self.name} error: {type(exc).__name__}: {exc}"})

    def answered(self, method: str, target: str, status: int | None, elapsed_ms: float) -> None:
        """Called before an answer goes out (`status` None: the connection is dropped)."""

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.stopping.clear()
        handler = type(
            "Handler", (_Handler,), {"server_fake": self, "server_version": self.software, "sys_version": ""}
        )
        httpd = _Server((self.host, self.port), handler, backlog=self.backlog)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases held `timeout` calls
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self.connections_lock:  # kept-alive connections end with the server
            open_connections, self.connections = list(self.connections), set()
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"the {self.name} is not running")
        host = self.host if self.host not in ("0.0.0.0", "") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    def serve_until_signalled(self, ready_prefix: str) -> None:
        """Serve, as a process: start, print `ready_prefix` and the URL, stop on SIGTERM or SIGINT."""
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        self.start()
        print(f"{ready_prefix}{self.url}", flush=True)
        try:
            while not done.wait(0.5):
                pass
        finally:
            self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, backlog: int
    ) -> None:
        self.request_queue_size = backlog  # read when the server starts listening, in __init__
        super().__init__(address, handler)


_CHUNK = 64 * 1024
_DRAIN_FACTOR = 4  # a body over the limit is read and dropped up to 4x the limit, so the client
# sees the answer rather than a reset; past that the connection is simply closed


class _Handler(BaseHTTPRequestHandler):
    """One connection, kept alive; `stop()` closes it. Every method goes to the server's `respond`."""

    protocol_version = "HTTP/1.1"  # keep-alive: the clients pool connections
    timeout = 30  # an idle kept-alive connection is closed after this (the clients expire theirs at 5 s)
    # Headers and body leave in one write (flushed after each request), with TCP_NODELAY: small
    # separate writes on a kept-alive connection otherwise wait ~40 ms on delayed ACKs.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_fake: LocalHttpServer

    def setup(self) -> None:
        super().setup()
        with self.server_fake.connections_lock:
            self.server_fake.connections.add(self.connection)

    def finish(self) -> None:
        with self.server_fake.connections_lock:
            self.server_fake.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _dispatch(self) -> None:
        server = self.server_fake
        started = _now_ms()
        outcome: Outcome
        try:
            body = self._read_body(server.max_body_bytes)
        except PayloadTooLarge:
            self.close_connection = True
            outcome = server.body_too_large()
        except MalformedRequest:
            self.close_connection = True
            outcome = server.bad_request()
        else:
            request = self._request(body)
            try:
                outcome = server.respond(request)
            except Exception as exc:
                outcome = server.crashed(request, exc)
        status = outcome.status if isinstance(outcome, Reply) else None
        server.answered(self.command, self.path, status, _now_ms() - started)
        if isinstance(outcome, Drop):
            self.close_connection = True
            return
        self._send(outcome, head=self.command == "HEAD")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _request(self, body: bytes) -> Request:
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"{self.server_fake.host}:{self.server_fake.port}"
        pairs = parse_qsl(split.query, keep_blank_values=True)
        return Request(
            method=self.command,
            target=self.path,
            path=split.path,
            segments=[unquote(s) for s in split.path.split("/") if s],
            query=dict(pairs),
            query_pairs=pairs,
            headers=self.headers,
            body=body,
            base_url=f"http://{host}",
            client_ip=self.client_address[0],
            protocol=self.request_version,
        )

    def _read_body(self, limit: int | None) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        declared = self.headers.get("Content-Length")
        if declared is None:
            return b""
        try:
            length = int(declared)
        except ValueError:
            raise MalformedRequest from None
        if length < 0:
            raise MalformedRequest
        if limit is not None and length > limit:
            remaining = min(length, _DRAIN_FACTOR * limit)
            while remaining > 0 and (data := self.rfile.read(min(_CHUNK, remaining))):
                remaining -= len(data)
            raise PayloadTooLarge
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, limit: int | None) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_CHUNK)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise MalformedRequest from None
            if size == 0:
                while self.rfile.readline(_CHUNK) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if limit is not None and total > limit:
                raise PayloadTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_CHUNK)

    def _send(self, reply: Reply, *, head: bool) -> None:
        if reply.body is None:
            payload = b""
        elif isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body).encode()
        content_type = reply.content_type
        if content_type is None and reply.body is not None and not isinstance(reply.body, bytes):
            content_type = self.server_fake.json_type
        self.send_response(reply.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in [*reply.headers.items(), *reply.header_list]:
            self.send_header(name, value)
        self.end_headers()
        if payload and not head:
            self.wfile.write(payload)


def _now_ms() -> float:
    return time.perf_counter() * 1000
