"""Keeping a user's live connections, and posting each live event to them.

`LiveConnections` is the WebSocket API's $connect and $disconnect: a connection is kept for the user
its token names, within the per-user limit (`live_connections_max`), and forgotten when it closes.
`LiveFanout` reads the table's stream: each record's live events (tidings.live.events) are posted to
the user's open connections; a connection API Gateway answers 410 GoneException for is gone (closed
without its $disconnect reaching us, or expired: "410 GoneException", AWS re:Post Knowledge Center) and
is forgotten. Delivery is at most once: any other failure to post is logged and the others still get
the event (a page that missed one reads the truth when it reconnects or reloads), while a failure to
read the connections fails the record, which the stream mapping retries a bounded number of times
before its failure destination gets the batch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from tidings.core.clock import Clock, SystemClock
from tidings.core.streams import dispatch_batch
from tidings.live.events import LiveEvent, is_live_source, live_events
from tidings.live.tokens import TokenVerifier
from tidings.store.live_connections import LiveConnection, LiveConnectionRepository

logger = logging.getLogger(__name__)

# A WebSocket frame API Gateway sends is at most 32 KB (its WebSocket quotas); a larger event goes out
# without its nested details, which the page reads from the API (`data.truncated`).
MAX_MESSAGE_BYTES = 32 * 1024


class ConnectionGone(Exception):
    """The connection is closed: API Gateway answered 410 GoneException."""


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, message: bytes) -> None:
        """Send one message to the connection; ConnectionGone when it no longer exists."""
        ...


class LiveConnections:
    def __init__(
        self,
        connections: LiveConnectionRepository,
        verifier: TokenVerifier,
        *,
        limit: int,
        clock: Clock | None = None,
    ) -> None:
        self.connections = connections
        self.verifier = verifier
        self.limit = limit
        self.clock = clock or SystemClock()

    def connect(self, connection_id: str, token: str | None) -> str:
        """Keep the connection for the token's user (returned); Unauthorized `invalid_token`, or
        Conflict `live_connections_full`."""
        user_id = self.verifier.user_of(token)
        self.connections.add(LiveConnection(user_id, connection_id, self.clock.now()), limit=self.limit)
        return user_id

    def disconnect(self, connection_id: str) -> str | None:
        return self.connections.remove(connection_id)


@dataclass
class FanoutResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0


def encode(event: LiveEvent) -> bytes:
    message = event.message()
    body = json.dumps(message, separators=(",", ":"), default=str).encode()
    if len(body) <= MAX_MESSAGE_BYTES:
        return body
    flat = {k: v for k, v in message["data"].items() if not isinstance(v, dict | list)}
    flat = {k: v[:280] if isinstance(v, str) else v for k, v in flat.items()}
    return json.dumps(message | {"data": flat | {"truncated": True}}, separators=(",", ":")).encode()


class LiveFanout:
    def __init__(
        self,
        connections: LiveConnectionRepository,
        poster: ConnectionPoster,
        clock: Clock | None = None,
    ) -> None:
        self.connections = connections
        self.poster = poster
        self.clock = clock or SystemClock()

    def publish(self, event: LiveEvent) -> FanoutResult:
        result = FanoutResult()
        body = encode(event)
        for connection_id in self.connections.open_for(event.user_id, self.clock.now()):
            try:
                self.poster.post(connection_id, body)
            except ConnectionGone:
                self.connections.remove(connection_id)
                result.gone += 1
            except Exception as exc:
                logger.warning("live event %s not sent to connection %s: %s", event.type, connection_id, exc)
                result.failed += 1
            else:
                result.sent += 1
        return result

    # -- the stream consumer ----------------------------------------------------------------------

    def wants(self, record: dict[str, Any]) -> bool:
        return is_live_source(record)

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        for event in live_events(record):
            self.publish(event)

    def flush(self, deferred: list[Any]) -> None:
        return None

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """A stream batch: the partial batch response."""
        return dispatch_batch(event, [self])
