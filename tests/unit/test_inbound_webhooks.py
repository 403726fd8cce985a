"""Meta webhooks: the handshake echoes only our challenge, and a delivery is read only when its
X-Hub-Signature-256 matches the raw body."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tidings.core.errors import Forbidden, Unauthorized, ValidationFailed
from tidings.integrations.inbound import answer_handshake, check_signature

SECRET = "app-secret-canary-123"
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
