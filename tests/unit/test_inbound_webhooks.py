"""Meta webhooks: the handshake echoes only our challenge, and a delivery is read only when its
X-Hub-Signature-256 matches the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from tidings.core.errors import Forbidden, PayloadTooLarge, Unauthorized, ValidationFailed
from tidings.integrations.inbound import MAX_ENTRIES, MetaInbox, answer_handshake, check_signature
from tidings.store.memory.inbound import InMemoryInboundEventRepository

SECRET = "app-secret-canary-123"
NOW = datetime(2026, 9, 21, 12, 0, tzinfo=UTC)
BODY = b'{"object":"page","entry":[{"id":"104857600012345","time":1790000000,"changes":[]}]}'


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signature_over_the_raw_body_is_accepted() -> None:
    check_signature(BODY, sign(BODY), SECRET)
    check_signature(BODY, sign(BODY).upper().replace("SHA256=", "sha256="), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=abc",
        sign(BODY, "another-secret"),
        sign(BODY.replace(b"page", b"user")),  # signed a different body
        sign(b'{"object": "page", "entry": [{"id": "104857600012345", "time": 1790000000, "changes": []}]}'),
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    with pytest.raises(Unauthorized) as info:
        check_signature(BODY, header, SECRET)
    assert info.value.status == 401
    assert SECRET not in info.value.message


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    with pytest.raises(Unauthorized) as info:
        check_signature(BODY, sign(BODY, ""), "")
    assert info.value.code == "webhook_not_configured"


def test_the_handshake_echoes_the_challenge_only_for_our_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert answer_handshake(params, "tok") == "1158201444"
    with pytest.raises(Forbidden):
        answer_handshake({**params, "hub.verify_token": "nope"}, "tok")
    with pytest.raises(Forbidden):
        answer_handshake(params, "")
    with pytest.raises(ValidationFailed):
        answer_handshake({"hub.mode": "unsubscribe", "hub.challenge": "1"}, "tok")


def _delivery(count: int, distinct: int | None = None) -> bytes:
    """A Meta delivery of `count` entries, `distinct` of them different (each comes again after)."""
    distinct = count if distinct is None else distinct
    entries = [{"id": str(1000 + n % distinct), "time": 1790000000, "changes": []} for n in range(count)]
    return json.dumps({"object": "page", "entry": entries}, separators=(",", ":")).encode()


def test_a_signed_delivery_of_20000_entries_is_refused_before_anything_is_stored() -> None:
    events = InMemoryInboundEventRepository()
    body = _delivery(20_000)
    assert len(body) > 100_000  # about the size of the delivery that held the API for a minute
    with pytest.raises(PayloadTooLarge) as refused:
        MetaInbox(events).receive_meta(body, sign(body), SECRET, NOW)
    assert (refused.value.status, refused.value.code) == (413, "too_many_entries")
    assert refused.value.details == {"limit": MAX_ENTRIES, "entries": 20_000}
    assert events.events == []


def test_a_full_delivery_is_stored_with_each_entry_once() -> None:
    events = InMemoryInboundEventRepository()
    body = _delivery(MAX_ENTRIES, distinct=400)
    assert MetaInbox(events).receive_meta(body, sign(body), SECRET, NOW) == 400
    assert MetaInbox(events).receive_meta(body, sign(body), SECRET, NOW) == 0  # Meta sends it again
    assert len(events.events) == 400
