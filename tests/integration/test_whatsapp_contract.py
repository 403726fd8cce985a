"""The WhatsApp Cloud API client against the local fake over real HTTP on loopback: the 24-hour
customer service window, approved templates, a wrong token, what is refused before any call, the
fake's faults, and the token kept out of every error."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.clock import SystemClock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients import default_http_client
from tidings.publishing.clients.whatsapp import MAX_TEXT, WhatsAppClient

CLIENT_TIMEOUT = 0.5  # seconds; the fake holds a `timeout` fault for longer
PHONE_ID = "106540352242922"
CANARY = "EAAG-whatsapp-canary-5f2e8a-token"
TEMPLATE, LANGUAGE = "viewing_reminder", "en_US"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    server = FakePlatformServer(hold_seconds=3.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own(fake: FakePlatformServer) -> Iterator[httpx.Client]:
    """A plain client for the fake's own endpoints."""
    with httpx.Client(base_url=fake.url) as client:
        registered = client.post(
            "/_accounts", json={"platform": "whatsapp", "accountId": PHONE_ID, "accessToken": CANARY}
        )
        assert registered.status_code == 201
        approved = client.post(
            "/_whatsapp/templates", json={"phoneNumberId": PHONE_ID, "name": TEMPLATE, "language": LANGUAGE}
        )
        assert approved.status_code == 201
        yield client


@pytest.fixture(autouse=True)
def _calm(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec())


@pytest.fixture(scope="module")
def whatsapp(fake: FakePlatformServer, own: httpx.Client) -> Iterator[WhatsAppClient]:
    settings = Settings.from_env({**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT)})
    http = default_http_client(settings)
    try:
        yield WhatsAppClient(settings, http, SystemClock())
    finally:
        http.close()


def account(token: str = CANARY) -> AccountCredentials:
    return AccountCredentials("whatsapp", PHONE_ID, token)


def new_contact() -> str:
    """A fresh contact's number (the window is per contact), in the way a person writes it."""
    digits = f"{uuid.uuid4().int % 10**7:07d}"
    return f"+1 555-{digits[:3]}-{digits[3:]}"


def wa_id(contact: str) -> str:
    return contact.replace("+", "").replace(" ", "").replace("-", "")


def customer_wrote(own: httpx.Client, contact: str, at: datetime | None = None) -> None:
    body: dict[str, object] = {"phoneNumberId": PHONE_ID, "from": contact}
    if at is not None:
        body["at"] = at.isoformat()
    assert own.post("/_whatsapp/inbound", json=body).status_code == 201


def received_by(own: httpx.Client, contact: str) -> list[dict[str, object]]:
    entries = own.get("/_received", params={"platform": "whatsapp"}).json()
    return [e for e in entries if e["to"] == wa_id(contact)]


def failure(send: Callable[[], object]) -> PlatformCallError:
    with pytest.raises(PlatformCallError) as caught:
        send()
    return caught.value


def test_a_text_inside_the_window_is_delivered(whatsapp: WhatsAppClient, own: httpx.Client) -> None:
    contact = new_contact()
    customer_wrote(own, contact, datetime.now(UTC) - timedelta(hours=23))
    text = f"Your viewing is confirmed for 10am {uuid.uuid4().hex[:8]}"
    sent = whatsapp.send_text(account(), contact, text)
    assert sent.message_id.startswith("wamid.")
    assert sent.to == wa_id(contact)
    assert abs((datetime.now(UTC) - sent.sent_at).total_seconds()) < 5
    (entry,) = received_by(own, contact)
    assert entry["platform"] == "whatsapp"
    assert entry["accountId"] == PHONE_ID
    assert entry["postId"] == sent.message_id
    assert entry["text"] == text
    assert entry["messageType"] == "text"
    assert entry["template"] is None


@pytest.mark.parametrize("last_wrote", [None, timedelta(hours=25)], ids=["never", "25h-ago"])
def test_a_text_outside_the_window_is_permanent_and_nothing_is_sent(
    whatsapp: WhatsAppClient, own: httpx.Client, last_wrote: timedelta | None
) -> None:
    contact = new_contact()
    if last_wrote is not None:
        customer_wrote(own, contact, datetime.now(UTC) - last_wrote)
    error = failure(lambda: whatsapp.send_text(account(), contact, "Still interested in the flat?"))
    assert error.kind is ErrorKind.PERMANENT
    assert error.code == "outside_customer_service_window"
    assert "approved template" in error.message
    assert received_by(own, contact) == []


def test_an_approved_template_reaches_a_contact_outside_the_window(
    whatsapp: WhatsAppClient, own: httpx.Client
) -> None:
    contact = new_contact()
    components = [{"type": "body", "parameters": [{"type": "text", "text": "10am"}]}]
    sent = whatsapp.send_template(account(), contact, TEMPLATE, LANGUAGE, components)
    (entry,) = received_by(own, contact)
    assert entry["postId"] == sent.message_id
    assert entry["messageType"] == "template"
    assert entry["template"] == {"name": TEMPLATE, "language": {"code": LANGUAGE}, "components": components}


def test_the_template_reopens_nothing_but_a_reply_does(whatsapp: WhatsAppClient, own: httpx.Client) -> None:
    contact = new_contact()
    whatsapp.send_template(account(), contact, TEMPLATE, LANGUAGE)
    assert (
        failure(lambda: whatsapp.send_text(account(), contact, "Hi")).code
        == "outside_customer_service_window"
    )
    customer_wrote(own, contact)
    whatsapp.send_text(account(), contact, "Thanks for your reply")
    assert [e["messageType"] for e in received_by(own, contact)] == ["template", "text"]


@pytest.mark.parametrize(("name", "language"), [("spring_promo", LANGUAGE), (TEMPLATE, "pt_BR")])
def test_a_template_not_approved_in_that_language_is_permanent(
    whatsapp: WhatsAppClient, own: httpx.Client, name: str, language: str
) -> None:
    contact = new_contact()
    error = failure(lambda: whatsapp.send_template(account(), contact, name, language))
    assert error.kind is ErrorKind.PERMANENT
    assert error.code == "132001"
    assert name in error.message
    assert received_by(own, contact) == []


def test_a_wrong_token_is_an_expired_authorization(whatsapp: WhatsAppClient, own: httpx.Client) -> None:
    contact = new_contact()
    customer_wrote(own, contact)
    error = failure(lambda: whatsapp.send_text(account("not-the-right-token"), contact, "Hi"))
    assert error.kind is ErrorKind.AUTH_EXPIRED
    assert "not-the-right-token" not in str(error)
    assert received_by(own, contact) == []


def test_a_text_too_long_is_refused_before_any_call(whatsapp: WhatsAppClient, own: httpx.Client) -> None:
    contact = new_contact()
    customer_wrote(own, contact)
    calls = own.get("/_calls").json()
    error = failure(lambda: whatsapp.send_text(account(), contact, "x" * (MAX_TEXT + 1)))
    assert error.kind is ErrorKind.PERMANENT
    assert error.code == "text_too_long"
    assert own.get("/_calls").json() == calls
    assert received_by(own, contact) == []


@pytest.mark.parametrize("to", ["", "call me", "555-019", "(555) 010-0199", "0044 7700 900123"])
def test_a_bad_recipient_is_refused_before_any_call(
    whatsapp: WhatsAppClient, own: httpx.Client, to: str
) -> None:
    calls = own.get("/_calls").json()
    for send in (
        lambda: whatsapp.send_text(account(), to, "Hi"),
        lambda: whatsapp.send_template(account(), to, TEMPLATE, LANGUAGE),
    ):
        error = failure(send)
        assert error.kind is ErrorKind.PERMANENT
        assert error.code == "invalid_recipient"
    assert own.get("/_calls").json() == calls


def test_the_token_never_appears_in_an_error(
    whatsapp: WhatsAppClient, own: httpx.Client, fake: FakePlatformServer
) -> None:
    inside, outside = new_contact(), new_contact()
    customer_wrote(own, inside)
    errors = [
        failure(lambda: whatsapp.send_text(account(), outside, "Hi")),
        failure(lambda: whatsapp.send_template(account(), outside, "spring_promo", LANGUAGE)),
        failure(lambda: whatsapp.send_text(account(), inside, "x" * (MAX_TEXT + 1))),
        failure(lambda: whatsapp.send_text(account(), "not a number", "Hi")),
        failure(lambda: whatsapp.send_text(AccountCredentials("whatsapp", "999", CANARY), inside, "Hi")),
    ]
    for spec in ("whatsapp:error500:1", "whatsapp:rate_limit:1", "whatsapp:lost_response:1"):
        fake.set_faults(FaultSpec.parse(spec))
        errors.append(failure(lambda: whatsapp.send_text(account(), inside, f"Hi {uuid.uuid4().hex[:6]}")))
    assert len({e.kind for e in errors}) >= 4
    for error in errors:
        assert CANARY not in str(error)
        assert CANARY not in error.message
        assert CANARY not in error.code


# -- the fake's faults -----------------------------------------------------------------------------


def test_a_server_error_is_retryable_and_sends_nothing(
    whatsapp: WhatsAppClient, own: httpx.Client, fake: FakePlatformServer
) -> None:
    contact = new_contact()
    customer_wrote(own, contact)
    fake.set_faults(FaultSpec.parse("whatsapp:error500:1"))
    error = failure(lambda: whatsapp.send_text(account(), contact, "Hi"))
    assert (error.kind, error.status) == (ErrorKind.RETRYABLE, 500)
    assert received_by(own, contact) == []


def test_a_throttle_is_rate_limited_with_when_to_retry(
    whatsapp: WhatsAppClient, own: httpx.Client, fake: FakePlatformServer
) -> None:
    contact = new_contact()
    fake.set_faults(FaultSpec.parse("whatsapp:rate_limit:1"))
    error = failure(lambda: whatsapp.send_template(account(), contact, TEMPLATE, LANGUAGE))
    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == pytest.approx(fake.retry_after, abs=1.0)
    assert received_by(own, contact) == []


def test_a_lost_answer_is_an_unknown_outcome_and_the_message_went(
    whatsapp: WhatsAppClient, own: httpx.Client, fake: FakePlatformServer
) -> None:
    contact = new_contact()
    customer_wrote(own, contact)
    fake.set_faults(FaultSpec.parse("whatsapp:lost_response:1"))
    error = failure(lambda: whatsapp.send_text(account(), contact, "Hi"))
    assert error.kind is ErrorKind.UNKNOWN_OUTCOME
    assert len(received_by(own, contact)) == 1


def test_a_timeout_is_an_unknown_outcome_and_the_message_did_not_go(
    whatsapp: WhatsAppClient, own: httpx.Client, fake: FakePlatformServer
) -> None:
    contact = new_contact()
    customer_wrote(own, contact)
    fake.set_faults(FaultSpec.parse("whatsapp:timeout:1"))
    started = time.monotonic()
    error = failure(lambda: whatsapp.send_text(account(), contact, "Hi"))
    assert error.kind is ErrorKind.UNKNOWN_OUTCOME
    assert time.monotonic() - started < 3.0
    assert received_by(own, contact) == []


# -- the fake itself -------------------------------------------------------------------------------


def test_the_fake_refuses_a_malformed_send_with_graph_error_100(
    fake: FakePlatformServer, own: httpx.Client
) -> None:
    url = f"{fake.url}/whatsapp/v23.0/{PHONE_ID}/messages"
    headers = {"Authorization": f"Bearer {CANARY}"}
    good = {"messaging_product": "whatsapp", "to": "15550100199", "type": "text", "text": {"body": "Hi"}}
    for body in (
        {k: v for k, v in good.items() if k != "messaging_product"},
        {**good, "to": "not a number"},
        {**good, "text": {}},
        {**good, "type": "template", "template": {"name": TEMPLATE}},
        {**good, "type": "sticker"},
    ):
        answer = httpx.post(url, json=body, headers=headers)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == 100
        assert error["error_data"]["details"]


def test_the_fake_lists_whatsapp_accounts_and_templates(own: httpx.Client) -> None:
    assert {"platform": "whatsapp", "accountId": PHONE_ID} in own.get("/_accounts").json()
    assert CANARY not in own.get("/_accounts").text
    templates = own.get("/_whatsapp/templates").json()
    assert {
        "phoneNumberId": PHONE_ID,
        "name": TEMPLATE,
        "language": LANGUAGE,
        "status": "APPROVED",
    } in templates
    refused = own.post("/_whatsapp/inbound", json={"phoneNumberId": PHONE_ID, "from": "nobody"})
    assert refused.status_code == 400
