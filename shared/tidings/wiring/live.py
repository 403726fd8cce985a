"""The composition root's builders of live updates: the connections' store, the $connect and
$disconnect use-case (with the token check), and the stream fan-out posting through API Gateway."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings

if TYPE_CHECKING:
    from tidings.aws.live import ApiGatewayConnections
    from tidings.live.service import LiveConnections, LiveFanout
    from tidings.store.live_connections import LiveConnectionRepository


@lru_cache(maxsize=1)
def live_connection_repository() -> LiveConnectionRepository:
    from tidings.store.live_connections import DynamoLiveConnectionRepository

    return DynamoLiveConnectionRepository(get_settings().table_name)


@lru_cache(maxsize=1)
def live_connections() -> LiveConnections:
    from tidings.live.service import LiveConnections
    from tidings.live.tokens import TokenRules, TokenVerifier

    s = get_settings()
    rules = TokenRules(
        issuer=s.live_issuer_url,
        client_ids=frozenset(c.strip() for c in s.live_client_ids.split(",") if c.strip()),
        jwks_url=s.live_jwks_url,
    )
    return LiveConnections(
        live_connection_repository(), TokenVerifier(rules), limit=s.live_connections_max, clock=DEFAULT_CLOCK
    )


class _Poster:
    """The management API's adapter, its 410 turned into the domain's ConnectionGone."""

    def __init__(self, connections: ApiGatewayConnections) -> None:
        self.connections = connections

    def post(self, connection_id: str, message: bytes) -> None:
        from tidings.aws.live import ConnectionGoneError
        from tidings.live.service import ConnectionGone

        try:
            self.connections.post(connection_id, message)
        except ConnectionGoneError:
            raise ConnectionGone(connection_id) from None


@lru_cache(maxsize=1)
def live_fanout() -> LiveFanout:
    from tidings.aws.live import ApiGatewayConnections
    from tidings.live.service import LiveFanout

    poster = _Poster(ApiGatewayConnections.from_settings(get_settings()))
    return LiveFanout(live_connection_repository(), poster, DEFAULT_CLOCK)
