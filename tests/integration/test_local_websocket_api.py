"""The local live WebSocket API with the real live functions behind it (DynamoDB Local, the lambda
host): a dashboard connects with the local runtime's access token, the fan-out's unchanged boto3
adapter posts to it through the @connections API, and a connection that is gone answers 410, which
makes the fan-out forget it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.local.api_gateway import JWKS_PATH, LocalHttpApi
from infra.local.auth import AUDIENCE, ISSUER, LocalAuth
from infra.local.lambda_host import LambdaHost
from infra.local.websocket_api import LocalWebSocketApi
from infra.topology import WEBSOCKET_ROUTES
from tidings.live.events import LiveEvent
from tidings.store.live_connections import LiveConnection


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> LocalAuth:
    return LocalAuth(tmp_path_factory.mktemp("live-state"))


@pytest.fixture(scope="module")
def jwks_api(auth: LocalAuth) -> Iterator[LocalHttpApi]:
    with LocalHttpApi((), lambda name, event: None, auth) as running:  # serves the key set only
        yield running


@pytest.fixture
def live(
    lambda_host: LambdaHost,
    local_aws_env: dict[str, str],
    jwks_api: LocalHttpApi,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LocalWebSocketApi]:
    from tidings.core.config import get_settings
    from tidings.wiring import live as wiring

    server = LocalWebSocketApi(
        WEBSOCKET_ROUTES, lambda function, event: lambda_host.invoke(function, event).payload
    ).start()
    monkeypatch.setenv("TIDINGS_LIVE_ENDPOINT_URL", server.management_url)
    monkeypatch.setenv("TIDINGS_LIVE_ISSUER_URL", ISSUER)
    monkeypatch.setenv("TIDINGS_LIVE_CLIENT_IDS", AUDIENCE)
    monkeypatch.setenv("TIDINGS_LIVE_JWKS_URL", f"{jwks_api.url}{JWKS_PATH}")

    def fresh() -> None:
        get_settings.cache_clear()
        for built in (wiring.live_connections, wiring.live_fanout, wiring.live_connection_repository):
            built.cache_clear()

    fresh()
    server.open()
    yield server
    server.stop()
    fresh()


def published(user_id: str, text: str) -> LiveEvent:
    return LiveEvent(f"evt_{text}", "post.published", user_id, {"postId": "p1", "contentPreview": text})


def open_for(user_id: str) -> list[str]:
    from tidings.wiring.live import live_connection_repository

    return live_connection_repository().open_for(user_id, datetime.now(UTC))


def until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_dashboard_connected_with_its_token_receives_the_fanouts_events_until_it_closes(
    live: LocalWebSocketApi, auth: LocalAuth
) -> None:
    from tidings.aws.live import ApiGatewayConnections, ConnectionGoneError
    from tidings.core.config import get_settings
    from tidings.wiring.live import live_fanout

    user = "agent-live-1"

    async def scenario() -> tuple[str, dict[str, Any], str]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{live.url}/?token={auth.issue_token(user)}") as ws,
        ):
            (connection_id,) = open_for(user)
            result = await asyncio.to_thread(live_fanout().publish, published(user, "hello"))
            assert (result.sent, result.gone, result.failed) == (1, 0, 0)
            message = await ws.receive_json(timeout=20)
            described = await asyncio.to_thread(
                ApiGatewayConnections.from_settings(get_settings()).client.get_connection,
                ConnectionId=connection_id,
            )
            return connection_id, message, described["Identity"]["SourceIp"]

    connection_id, message, source_ip = asyncio.run(scenario())

    assert message == {
        "id": "evt_hello",
        "type": "post.published",
        "data": {"postId": "p1", "contentPreview": "hello"},
    }
    assert source_ip == "127.0.0.1"
    until(lambda: not open_for(user), "the $disconnect to forget the connection")
    with pytest.raises(ConnectionGoneError):
        ApiGatewayConnections.from_settings(get_settings()).post(connection_id, b"{}")


def test_a_connection_without_a_valid_token_is_never_made(live: LocalWebSocketApi, tmp_path: Path) -> None:
    stranger = LocalAuth(tmp_path).issue_token("agent-live-2")  # signed by a key the issuer never had

    async def status(query: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{live.url}/{query}"):
                    return 101
            except aiohttp.WSServerHandshakeError as refused:
                return refused.status

    assert asyncio.run(status("")) == 401
    assert asyncio.run(status(f"?token={stranger}")) == 401
    assert open_for("agent-live-2") == []


def test_a_connection_that_is_gone_answers_410_and_the_fanout_forgets_it(live: LocalWebSocketApi) -> None:
    from tidings.wiring.live import live_connection_repository, live_fanout

    user = "agent-live-3"
    live_connection_repository().add(
        LiveConnection(user, "bm90LWhlcmUtYW55bW9yZQ==", datetime.now(UTC)), limit=10
    )

    result = live_fanout().publish(published(user, "anyone"))

    assert (result.sent, result.gone) == (0, 1)
    assert open_for(user) == []


def test_deleting_a_connection_closes_it_and_its_disconnect_forgets_it(
    live: LocalWebSocketApi, auth: LocalAuth
) -> None:
    from tidings.aws.live import ApiGatewayConnections
    from tidings.core.config import get_settings

    user = "agent-live-4"

    async def scenario() -> tuple[aiohttp.WSMsgType, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{live.url}/?token={auth.issue_token(user)}") as ws,
        ):
            (connection_id,) = open_for(user)
            client = ApiGatewayConnections.from_settings(get_settings()).client
            await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
            closed = await ws.receive(timeout=20)
            return closed.type, closed.data

    assert asyncio.run(scenario()) == (aiohttp.WSMsgType.CLOSE, 1001)  # going away
    until(lambda: not open_for(user), "the $disconnect to forget the connection")


def test_a_ping_reaches_live_connections_and_sends_nothing_back(
    live: LocalWebSocketApi, auth: LocalAuth
) -> None:
    from tidings.wiring.live import live_fanout

    user = "agent-live-5"

    async def scenario() -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{live.url}/?token={auth.issue_token(user)}") as ws,
        ):
            await ws.send_json({"action": "ping"})
            await ws.send_json({"action": "ping"})
            result = await asyncio.to_thread(live_fanout().publish, published(user, "after-ping"))
            assert result.sent == 1
            return dict(await ws.receive_json(timeout=20))  # the event, not an answer to a ping

    assert asyncio.run(scenario())["id"] == "evt_after-ping"


class Recorder:
    """The routes' functions, answering 200 and keeping each event they get."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append((function, event))
        return {"statusCode": 200}

    def routes(self) -> list[str]:
        return [event["requestContext"]["routeKey"] for _, event in self.events]


@pytest.fixture
def routed() -> Iterator[tuple[LocalWebSocketApi, Recorder]]:
    recorder = Recorder()
    server = LocalWebSocketApi(WEBSOCKET_ROUTES, recorder, idle_seconds=1.5).start()
    server.open()
    yield server, recorder
    server.stop()


def test_a_message_takes_the_route_its_action_names_and_another_is_refused(
    routed: tuple[LocalWebSocketApi, Recorder],
) -> None:
    server, recorder = routed

    async def scenario() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{server.url}/?token=t") as ws:
            await ws.send_str('{"action":"ping"}')
            await ws.send_str('{"action":"subscribe"}')
            return dict(await ws.receive_json(timeout=10))

    refused = asyncio.run(scenario())

    assert refused["message"] == "Forbidden"
    assert set(refused) == {"message", "connectionId", "requestId"}
    until(lambda: "$disconnect" in recorder.routes(), "the $disconnect")
    assert recorder.routes() == ["$connect", "ping", "$disconnect"]
    (function, ping) = recorder.events[1]
    assert function == "live_connections"
    assert ping["body"] == '{"action":"ping"}'
    assert ping["requestContext"]["eventType"] == "MESSAGE"
    assert ping["requestContext"]["connectionId"] == refused["connectionId"]
    assert "queryStringParameters" not in ping


def test_an_idle_connection_is_closed_and_one_that_pings_stays_open(
    routed: tuple[LocalWebSocketApi, Recorder],
) -> None:
    server, recorder = routed  # idle after 1.5 s here (10 minutes as on API Gateway by default)

    async def silent() -> tuple[aiohttp.WSMsgType, Any, float]:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{server.url}/?token=t") as ws:
            started = time.monotonic()
            closed = await ws.receive(timeout=10)
            return closed.type, closed.data, time.monotonic() - started

    async def pinging() -> bool:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{server.url}/?token=t") as ws:
            for _ in range(8):  # 4 s, more than twice the idle timeout
                await ws.send_json({"action": "ping"})
                await asyncio.sleep(0.5)
            return not ws.closed

    kind, code, after = asyncio.run(silent())
    assert (kind, code) == (aiohttp.WSMsgType.CLOSE, 1001)
    assert 1.4 <= after < 5
    assert asyncio.run(pinging())
    assert recorder.routes().count("ping") == 8
