"""The HTTP server under the local fakes (`fake_platforms`, `fake_vendors`): started and stopped
in-process or used as a context manager, on a thread of its own, with keep-alive connections that end
with the server."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit


class FakeHttpServer:
    """A fake's server: `start()`/`stop()` (or `with`), and `url` while it runs.

    `handler` serves each request (it reaches the fake as `server_fake`); `name` is what the fake is
    called in errors, `thread_name` the name of the serving thread; `backlog` how many new connections
    may wait to be accepted (socketserver's default of 5 would refuse or reset a burst from a client's
    pool; the kernel caps it at net.core.somaxconn).
    """

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[FakeHandler],
        *,
        name: str,
        thread_name: str,
        backlog: int,
    ) -> None:
        self.host = host
        self.port = port
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self._handler = handler
        self._name = name
        self._thread_name = thread_name
        self._backlog = backlog
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.stopping.clear()
        handler = type("Handler", (self._handler,), {"server_fake": self})
        httpd = _Server((self.host, self.port), handler, backlog=self._backlog)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self._thread_name, daemon=True
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
            raise RuntimeError(f"the {self._name} is not running")
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


@dataclass
class FakeRequest:
    """A request as a fake's routes read it."""

    method: str
    path: str
    segments: list[str]  # the path's parts, unquoted
    query: dict[str, str]
    headers: Any
    body: bytes
    base_url: str  # http://host:port, as the client addressed the fake


_RequestT = TypeVar("_RequestT", bound=FakeRequest)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, backlog: int
    ) -> None:
        self.request_queue_size = backlog  # read when the server starts listening, in __init__
        super().__init__(address, handler)


class FakeHandler(BaseHTTPRequestHandler):
    """One connection to a fake, kept alive; `stop()` closes it. GET, POST and DELETE go to `_serve`."""

    protocol_version = "HTTP/1.1"  # keep-alive: the clients pool connections
    timeout = 30  # an idle kept-alive connection is closed after this (the clients expire theirs at 5 s)
    server_fake: FakeHttpServer

    def setup(self) -> None:
        super().setup()
        with self.server_fake.connections_lock:
            self.server_fake.connections.add(self.connection)
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer on a kept-alive connection for ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        with self.server_fake.connections_lock:
            self.server_fake.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        raise NotImplementedError

    def _request(self, request_class: type[_RequestT], method: str, body: bytes) -> _RequestT:
        """This request, with the `body` the fake read."""
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"{self.server_fake.host}:{self.server_fake.port}"
        return request_class(
            method=method,
            path=split.path,
            segments=[unquote(s) for s in split.path.split("/") if s],
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=self.headers,
            body=body,
            base_url=f"http://{host}",
        )
