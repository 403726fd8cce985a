"""The local live WebSocket API: API Gateway's WebSocket API and its management API (`@connections`)
on one port, in front of the same handlers.

- `GET /?token=...` with a WebSocket upgrade opens a connection. As on API Gateway ("Work with the
  $connect and $disconnect routes"), the $connect route's function gets a $connect event first
  (the upgrade's headers and query string, `requestContext.connectionId` a new id) and the connection
  is made only when it answers 2xx; otherwise the upgrade is answered with its status and no
  connection exists. When the connection closes (either side), $disconnect gets the close code and
  reason. A connection lasts at most two hours, and one with no message either way for 10 minutes is
  closed too, both with 1001 "Going away", as API Gateway's are.
- What the browser sends takes a route as on API Gateway ("Create routes for WebSocket APIs"): a JSON
  text whose `action` (the route selection expression `$request.body.action`) names a route goes to
  that route's function as a MESSAGE event (the text its `body`); its answer is not sent back (the
  routes are one-way: no route response). Any other text goes to `$default` when there is one, and
  otherwise the sender hears `{"message": "Forbidden", "connectionId": ..., "requestId": ...}` (as
  aws-samples/simple-websockets-chat-app issue 24 shows API Gateway answering); a binary frame closes
  the connection with 1003. The dashboard's keepalive, `{"action": "ping"}`, is such a message.
- The management API the fan-out's boto3 client (apigatewaymanagementapi with `endpoint_url`) calls:
  `POST /@connections/{id}` sends the body to the connection as one frame (a text frame when it is
  UTF-8, at most 128 KB), `GET` describes it, `DELETE` closes it; an id that is not connected answers
  410 GoneException. A post to a connection whose $connect is still running waits for it, so a post
  that races a new connection reaches it rather than making the fan-out forget it.

Sources (API Gateway Developer Guide): "Use @connections commands in your backend service",
"Quotas for configuring and running a WebSocket API" (2 hours; idle 10 minutes; 128 KB a message),
and the $connect/$disconnect/message event shapes of the Lambda proxy integration.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from infra.topology import WebSocketRoute

log = logging.getLogger("tidings.local.live")

API_ID = "local"
STAGE = "live"
CONNECTION_SECONDS = 2 * 3600.0  # "Connection duration for WebSocket API: 2 hours"
IDLE_SECONDS = 600.0  # "Idle Connection Timeout: 10 minutes"
DEFAULT_ROUTE = "$default"
MAX_POST_BYTES = 128 * 1024  # PostToConnection's payload
CONNECT_WAIT_SECONDS = 30.0  # a post to a connection whose $connect runs waits at most this long
CONNECTIONS_PATH = "/@connections/"

# (function, event) -> the function's result payload, or raises/returns an error payload
Invoke = Callable[[str, dict[str, Any]], Any]


def _connection_id() -> str:
    # API Gateway's look like "Zt4xRdW5oAMCJ8g=": 11 random bytes in (URL-safe) base64
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


def _request_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, kind: str, message: str) -> web.Response:
    """An error as the management API answers it (botocore reads the type from the header)."""
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": kind})


@dataclass
class _Connection:
    connection_id: str
    connected_at: float
    source_ip: str
    user_agent: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    ws: web.WebSocketResponse | None = None  # None until $connect accepted it (or refused it)
    last_active_at: float = 0.0  # the last message either way
    closed_by_server: tuple[int, str] | None = None
    idle_check: asyncio.TimerHandle | None = None


class LocalWebSocketApi:
    """Serve the WebSocket API and its management API on `host:port` (0: any free port)."""

    def __init__(
        self,
        routes: Sequence[WebSocketRoute],
        invoke: Invoke,
        host: str = "127.0.0.1",
        port: int = 0,
        connection_seconds: float = CONNECTION_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.functions = {route.route_key: route.function for route in routes}
        self.invoke = invoke
        self.host = host
        self.port = port
        self.connection_seconds = connection_seconds
        self.idle_seconds = idle_seconds
        self.accepting = threading.Event()  # upgrades are answered 503 until `open()`
        self._connections: dict[str, _Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._closing: set[asyncio.Future[Any]] = set()

    @property
    def url(self) -> str:
        """Where a browser connects (`?token=` its access token)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def management_url(self) -> str:
        """The @connections endpoint (the fan-out's `endpoint_url`)."""
        return f"http://{self.host}:{self.port}"

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> LocalWebSocketApi:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="live-websocket-api", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise failure[0]
        return self

    def open(self) -> None:
        """Take connections (once the token check's settings are in place)."""
        self.accepting.set()

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_POST_BYTES + 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        for connection in list(self._connections.values()):
            if connection.ws is not None and not connection.ws.closed:
                connection.closed_by_server = (int(WSCloseCode.GOING_AWAY), "Going away")
                await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Going away")
        if self._runner is not None:
            await self._runner.cleanup()

    # -- requests --------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        _prefix, found, connection_id = request.path.rpartition(CONNECTIONS_PATH)
        if found and connection_id and "/" not in connection_id:
            return await self._manage(request, connection_id)
        if request.headers.get("upgrade", "").lower() == "websocket" and request.method == "GET":
            return await self._connect(request)
        return web.json_response({"message": "Forbidden"}, status=403)

    async def _call(self, route_key: str, event: dict[str, Any]) -> Any:
        function = self.functions[route_key]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.invoke, function, event)

    def _event(
        self, request: web.Request, connection: _Connection, route_key: str, body: str | None = None
    ) -> dict[str, Any]:
        """The Lambda proxy integration's event: $connect and $disconnect carry the upgrade's headers
        (and $connect its query string), a message its text as `body`."""
        now = time.time()
        request_id = _connection_id()
        kind = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
        context: dict[str, Any] = {
            "routeKey": route_key,
            **({"messageId": _connection_id()} if kind == "MESSAGE" else {}),
            "eventType": kind,
            "extendedRequestId": request_id,
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": int(connection.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            "requestId": request_id,
            "domainName": request.host,
            "connectionId": connection.connection_id,
            "apiId": API_ID,
        }
        if kind == "MESSAGE":
            return {"requestContext": context, "body": body or "", "isBase64Encoded": False}
        headers = {key: value for key, value in request.headers.items()}
        event: dict[str, Any] = {
            "headers": headers,
            "multiValueHeaders": {key: request.headers.getall(key) for key in headers},
            "isBase64Encoded": False,
            "requestContext": context,
        }
        if route_key == "$connect" and request.query:
            event["queryStringParameters"] = {key: request.query[key] for key in request.query}
            event["multiValueQueryStringParameters"] = {
                key: request.query.getall(key) for key in request.query
            }
        return event

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        if not self.accepting.is_set():
            return web.json_response({"message": "Service Unavailable"}, status=503)
        connection = _Connection(
            _connection_id(),
            time.time(),
            request.remote or "127.0.0.1",
            request.headers.get("user-agent", ""),
        )
        self._connections[connection.connection_id] = connection
        try:
            status = await self._connect_status(request, connection)
        except BaseException:
            self._forget(connection)
            raise
        if not 200 <= status < 300:
            self._forget(connection)
            return web.json_response(
                {"message": "Forbidden" if status == 403 else "Unauthorized"}, status=status
            )
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        try:
            await ws.prepare(request)
        except BaseException:
            self._forget(connection)
            await self._disconnect(request, connection, int(WSCloseCode.ABNORMAL_CLOSURE), "Going away")
            raise
        connection.ws = ws
        connection.last_active_at = time.time()
        connection.ready.set()
        loop = asyncio.get_running_loop()
        expiry = loop.call_later(self.connection_seconds, self._expire, connection)
        self._watch_idle(connection)
        try:
            async for message in ws:
                connection.last_active_at = time.time()
                if message.type == WSMsgType.TEXT:
                    await self._message(request, connection, ws, str(message.data))
                elif message.type == WSMsgType.BINARY:  # "a binary frame ... closed with code 1003"
                    connection.closed_by_server = (int(WSCloseCode.UNSUPPORTED_DATA), "Unsupported data")
                    await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"Unsupported data")
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            expiry.cancel()
            if connection.idle_check is not None:
                connection.idle_check.cancel()
            self._connections.pop(connection.connection_id, None)
            code, reason = connection.closed_by_server or (
                int(ws.close_code or WSCloseCode.ABNORMAL_CLOSURE),
                "Client-side close frame status code",
            )
            await self._disconnect(request, connection, code, reason)
        return ws

    def _route_of(self, text: str) -> str | None:
        """The route a message takes: the one its `action` names, else $default (None: neither)."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        action = body.get("action") if isinstance(body, dict) else None
        if isinstance(action, str) and not action.startswith("$") and action in self.functions:
            return action
        return DEFAULT_ROUTE if DEFAULT_ROUTE in self.functions else None

    async def _message(
        self, request: web.Request, connection: _Connection, ws: web.WebSocketResponse, text: str
    ) -> None:
        route_key = self._route_of(text)
        if route_key is None:
            refusal = {
                "message": "Forbidden",
                "connectionId": connection.connection_id,
                "requestId": _connection_id(),
            }
            await ws.send_str(json.dumps(refusal))
            return
        try:
            result = await self._call(route_key, self._event(request, connection, route_key, text))
        except Exception as exc:
            log.warning("%s failed: %s", route_key, exc)
            return
        if isinstance(result, dict) and "errorMessage" in result:
            log.warning("%s failed: %s", route_key, result["errorMessage"])

    async def _connect_status(self, request: web.Request, connection: _Connection) -> int:
        result = await self._call("$connect", self._event(request, connection, "$connect"))
        if isinstance(result, dict) and isinstance(result.get("statusCode"), int):
            return int(result["statusCode"])
        if isinstance(result, dict) and "errorMessage" in result:
            log.warning("$connect failed: %s", result["errorMessage"])
            return 500
        return 200  # a proxy integration answering no status code: API Gateway takes 200

    def _forget(self, connection: _Connection) -> None:
        self._connections.pop(connection.connection_id, None)
        connection.ready.set()  # a post waiting for it answers 410

    async def _disconnect(
        self, request: web.Request, connection: _Connection, code: int, reason: str
    ) -> None:
        event = self._event(request, connection, "$disconnect")
        event["requestContext"] |= {"disconnectStatusCode": code, "disconnectReason": reason}
        try:
            await self._call("$disconnect", event)
        except Exception as exc:  # best effort, as on API Gateway
            log.warning("$disconnect failed: %s", exc)

    def _watch_idle(self, connection: _Connection) -> None:
        """Close the connection once no message went either way for `idle_seconds`."""
        ws = connection.ws
        if ws is None or ws.closed:
            return
        quiet = time.time() - connection.last_active_at
        if quiet >= self.idle_seconds:
            self._expire(connection)
            return
        loop = asyncio.get_running_loop()
        connection.idle_check = loop.call_later(self.idle_seconds - quiet, self._watch_idle, connection)

    def _expire(self, connection: _Connection) -> None:
        if connection.ws is not None and not connection.ws.closed:
            connection.closed_by_server = (int(WSCloseCode.GOING_AWAY), "Going away")
            task = asyncio.ensure_future(
                connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Going away")
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _manage(self, request: web.Request, connection_id: str) -> web.Response:
        connection = self._connections.get(connection_id)
        if connection is not None and connection.ws is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connection.ready.wait(), CONNECT_WAIT_SECONDS)
        ws = connection.ws if connection is not None else None
        if connection is None or ws is None or ws.closed or connection_id not in self._connections:
            return _error(410, "GoneException", f"connection {connection_id} is gone")
        if request.method == "POST":
            data = await request.read()
            if len(data) > MAX_POST_BYTES:
                return _error(413, "PayloadTooLargeException", "the message is larger than 128 KB")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                await ws.send_bytes(data)
            else:
                await ws.send_str(text)
            connection.last_active_at = time.time()
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response(
                {
                    "connectedAt": _iso(connection.connected_at),
                    "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                    "lastActiveAt": _iso(connection.last_active_at),
                }
            )
        if request.method == "DELETE":
            connection.closed_by_server = (int(WSCloseCode.GOING_AWAY), "Going away")
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"Going away")
            return web.Response(status=204)
        return _error(405, "BadRequestException", f"{request.method} is not an @connections method")
