"""What the CRM connector contract tests share: an observer that keeps every CallRecord, a raised
ConnectorError checked for secrets, and the fake vendor server's own endpoints for contacts and
faults."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from tidings.integrations.connectors.base import ConnectorError
from tidings.models.calls import CallRecord


class Calls:
    """An observer that keeps every CallRecord."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)

    def operations(self) -> list[tuple[str, int | None]]:
        return [(r.operation, r.status) for r in self.records]


def raised(action: Callable[[], object], secrets: Iterable[str]) -> ConnectorError:
    """The ConnectorError `action` raises, after checking that no secret shows in it."""
    with pytest.raises(ConnectorError) as caught:
        action()
    error = caught.value
    for secret in secrets:
        assert secret not in f"{error} {error!r} {error.message} {error.args}"
    return error


def add_contacts(own: httpx.Client, provider: str, *contacts: dict[str, Any]) -> list[str]:
    """Contacts for `provider` on the fake vendor server (`own` is a client of its own endpoints)."""
    answer = own.post("/_vendors/contacts", json={"provider": provider, "contacts": list(contacts)})
    assert answer.status_code == 201, answer.text
    ids: list[str] = answer.json()["ids"]
    return ids


def add_fault(own: httpx.Client, provider: str, kind: str, **extra: Any) -> None:
    answer = own.post("/_vendors/faults", json={"provider": provider, "kind": kind, **extra})
    assert answer.status_code == 201, answer.text
