"""The in-memory live connections keep the DynamoDB ones' contract: a user's open connections, the
per-user limit, stale connections neither listed nor counted, a connection forgotten by its id alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.store.live_connections import (
    DynamoLiveConnectionRepository,
    LiveConnection,
    LiveConnectionRepository,
)
from tidings.store.memory.live_connections import InMemoryLiveConnectionRepository

NOW = datetime(2027, 5, 2, 16, 0, tzinfo=UTC)

table = contract_table


@pytest.fixture
def connections(table: Table | None) -> LiveConnectionRepository:
    if table is None:
        return InMemoryLiveConnectionRepository()
    return DynamoLiveConnectionRepository(table.name, table.client)


def test_a_users_connections_are_listed_until_removed(connections: LiveConnectionRepository) -> None:
    user, other = user_id(), user_id()
    connections.add(LiveConnection(user, "b", NOW), limit=3)
    connections.add(LiveConnection(user, "a", NOW), limit=3)
    connections.add(LiveConnection(user, "a", NOW), limit=3)  # the same connection again
    connections.add(LiveConnection(other, "c", NOW), limit=3)

    assert connections.open_for(user, NOW) == ["a", "b"]
    assert connections.remove("a") == user
    assert connections.remove("a") is None
    assert connections.open_for(user, NOW) == ["b"]


def test_one_more_than_the_limit_is_refused_until_one_goes_stale(
    connections: LiveConnectionRepository,
) -> None:
    user = user_id()
    connections.add(LiveConnection(user, "a", NOW), limit=2)
    connections.add(LiveConnection(user, "b", NOW + timedelta(hours=1)), limit=2)

    assert outcome(lambda: connections.add(LiveConnection(user, "c", NOW), limit=2)) == "Conflict"

    later = NOW + timedelta(hours=2, minutes=30)  # a's two hours are over, b's are not
    assert connections.open_for(user, later) == ["b"]
    connections.add(LiveConnection(user, "c", later), limit=2)
    assert connections.open_for(user, later) == ["b", "c"]
