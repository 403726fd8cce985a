"""How the WhatsApp Cloud API client shapes its calls and classifies what goes wrong, against an
httpx.MockTransport playing the Cloud API (unit tests have no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.models.accounts import AccountCredentials
from tidings.publishing.clients.whatsapp import MAX_TEXT, SentMessage, WhatsAppClient, recipient_id

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PHONE_ID = "106540352242922"
CANARY = "EAAG-whatsapp-canary-9c1d7e-token"
SETTINGS = Settings(whatsapp_api_base="https://graph.test/v23.0/")
ACCOUNT = AccountCredentials("whatsapp", PHONE_ID, CANARY)
SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "15550100199", "wa_id": "15550100199"}],
    "messages": [{"id": "wamid.HBgLMTU1NTAxMDAxOTkVAgARGBI="}],
}

Answer = httpx.Response | Exception


class CloudApi:
    """Answers every call with `answer` and keeps the requests."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer if answer is not None else httpx.Response(200, json=SENT)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def client(api: CloudApi, clock: FakeClock | None = None) -> WhatsAppClient:
    return WhatsAppClient(SETTINGS, httpx.Client(transport=httpx.MockTransport(api)), clock or FakeClock(NOW))


def cloud_error(code: int, message: str, details: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error.update(extra)
    return {"error": error}


def send_a_text(whatsapp: WhatsAppClient) -> SentMessage:
    return whatsapp.send_text(ACCOUNT, "15550100199", "Your viewing is confirmed for 10am")


def send_error(
    answer: Answer, send: Callable[[WhatsAppClient], SentMessage] = send_a_text
) -> PlatformCallError:
    with pytest.raises(PlatformCallError) as caught:
        send(client(CloudApi(answer)))
    return caught.value


# -- the calls -------------------------------------------------------------------------------------


def test_a_text_goes_to_the_phone_numbers_messages_edge_in_the_documented_shape() -> None:
    api = CloudApi()
    sent = client(api).send_text(ACCOUNT, "+1 555-010-0199", "See you at 10am", preview_url=True)
    assert sent == SentMessage("wamid.HBgLMTU1NTAxMDAxOTkVAgARGBI=", "15550100199", NOW)
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == f"https://graph.test/v23.0/{PHONE_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {CANARY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15550100199",
        "type": "text",
        "text": {"body": "See you at 10am", "preview_url": True},
    }
    assert CANARY not in str(request.url)
    assert CANARY.encode() not in request.content


def test_a_template_carries_its_name_language_and_components() -> None:
    api = CloudApi()
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    client(api).send_template(ACCOUNT, "15550100199", "viewing_reminder", "en_US", components)
    assert json.loads(api.requests[0].content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15550100199",
        "type": "template",
        "template": {"name": "viewing_reminder", "language": {"code": "en_US"}, "components": components},
    }


def test_a_template_without_components_sends_none() -> None:
    api = CloudApi()
    client(api).send_template(ACCOUNT, "15550100199", "hello_world", "en_US")
    assert json.loads(api.requests[0].content)["template"] == {
        "name": "hello_world",
        "language": {"code": "en_US"},
    }


def test_the_recipient_is_the_wa_id_the_api_returned() -> None:
    answer = {**SENT, "contacts": [{"input": "+1 555 010 0199", "wa_id": "15550100100"}]}
    sent = client(CloudApi(httpx.Response(200, json=answer))).send_text(ACCOUNT, "+1 555 010 0199", "Hi")
    assert sent.to == "15550100100"


def test_sent_at_comes_from_the_clock() -> None:
    clock = FakeClock(NOW)
    clock.advance(timedelta(minutes=5))
    sent = client(CloudApi(), clock).send_text(ACCOUNT, "15550100199", "Hi")
    assert sent.sent_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+1 555-010-0199", "15550100199"),
        ("447700900123", "447700900123"),
        (" +44 7700 900123 ", "447700900123"),
    ],
)
def test_a_recipient_in_international_format_is_reduced_to_digits(given: str, expected: str) -> None:
    assert recipient_id(given) == expected


@pytest.mark.parametrize(
    "given", ["", "+", "555-019", "(555) 010-0199", "+1 555 010 0199 ext 2", "0044 7700 900123", "1" * 16]
)
def test_a_recipient_that_is_not_an_international_number_is_refused_before_any_call(given: str) -> None:
    api = CloudApi()
    with pytest.raises(PlatformCallError) as caught:
        client(api).send_text(ACCOUNT, given, "Hi")
    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.code == "invalid_recipient"
    with pytest.raises(PlatformCallError):
        client(api).send_template(ACCOUNT, given, "hello_world", "en_US")
    assert api.requests == []


def test_a_text_of_the_documented_length_goes_and_one_longer_is_refused_before_any_call() -> None:
    api = CloudApi()
    client(api).send_text(ACCOUNT, "15550100199", "x" * MAX_TEXT)
    assert len(api.requests) == 1
    with pytest.raises(PlatformCallError) as caught:
        client(api).send_text(ACCOUNT, "15550100199", "x" * (MAX_TEXT + 1))
    assert caught.value.kind is ErrorKind.PERMANENT
    assert caught.value.code == "text_too_long"
    assert len(api.requests) == 1


def test_an_empty_text_or_template_name_is_refused_before_any_call() -> None:
    api = CloudApi()
    with pytest.raises(PlatformCallError) as text:
        client(api).send_text(ACCOUNT, "15550100199", "")
    with pytest.raises(PlatformCallError) as template:
        client(api).send_template(ACCOUNT, "15550100199", " ", "en_US")
    assert (text.value.kind, template.value.kind) == (ErrorKind.PERMANENT, ErrorKind.PERMANENT)
    assert api.requests == []


# -- classification --------------------------------------------------------------------------------

PERM, RL, AUTH = ErrorKind.PERMANENT, ErrorKind.RATE_LIMITED, ErrorKind.AUTH_EXPIRED
RETRY, UNKNOWN = ErrorKind.RETRYABLE, ErrorKind.UNKNOWN_OUTCOME
USAGE = json.dumps({"waba": [{"type": "whatsapp", "estimated_time_to_regain_access": 3}]})

# case: (answer, kind, code, retry_after, a part of the message)
CASES: dict[str, tuple[httpx.Response, ErrorKind, str, float | None, str]] = {
    "re-engagement": (
        httpx.Response(
            400, json=cloud_error(131047, "(#131047) Re-engagement message", "more than 24 hours")
        ),
        PERM,
        "outside_customer_service_window",
        None,
        "approved template",
    ),
    "throughput": (
        httpx.Response(
            400, json=cloud_error(130429, "(#130429) Rate limit hit"), headers={"Retry-After": "7"}
        ),
        RL,
        "130429",
        7.0,
        "Rate limit hit",
    ),
    "throughput-no-header": (
        httpx.Response(429, json=cloud_error(130429, "(#130429) Rate limit hit")),
        RL,
        "130429",
        60.0,
        "",
    ),
    "spam-rate-limit": (
        httpx.Response(400, json=cloud_error(131048, "(#131048) Spam rate limit hit", "restricted")),
        RL,
        "131048",
        900.0,
        "restricted",
    ),
    "pair-rate-limit": (
        httpx.Response(400, json=cloud_error(131056, "(#131056) Pair rate limit hit")),
        RL,
        "131056",
        60.0,
        "",
    ),
    "waba-rate-limit": (
        httpx.Response(400, json=cloud_error(80007, "(#80007) Rate limit issues")),
        RL,
        "80007",
        300.0,
        "",
    ),
    "waba-rate-limit-usage-header": (
        httpx.Response(
            400,
            json=cloud_error(80007, "(#80007) Rate limit issues"),
            headers={"X-Business-Use-Case-Usage": USAGE},
        ),
        RL,
        "80007",
        180.0,
        "",
    ),
    "app-rate-limit": (
        httpx.Response(400, json=cloud_error(4, "(#4) Application request limit reached")),
        RL,
        "4",
        300.0,
        "",
    ),
    "throttle-without-body": (httpx.Response(429), RL, "http_429", 60.0, "HTTP 429"),
    "expired-token": (
        httpx.Response(401, json=cloud_error(190, "Error validating access token: Session has expired")),
        AUTH,
        "190",
        None,
        "Session has expired",
    ),
    "unauthorized-without-body": (httpx.Response(401), AUTH, "http_401", None, ""),
    "undeliverable": (
        httpx.Response(
            400,
            json=cloud_error(131026, "(#131026) Message Undeliverable", "Recipient is not a WhatsApp user"),
        ),
        PERM,
        "131026",
        None,
        "Recipient is not a WhatsApp user",
    ),
    "template-param-mismatch": (
        httpx.Response(400, json=cloud_error(132000, "(#132000) Number of parameters does not match")),
        PERM,
        "132000",
        None,
        "Number of parameters",
    ),
    "template-missing": (
        httpx.Response(
            404,
            json=cloud_error(
                132001,
                "(#132001) Template name does not exist in the translation",
                "template name (promo) does not exist in en_US",
            ),
        ),
        PERM,
        "132001",
        None,
        "does not exist in en_US",
    ),
    "template-paused": (
        httpx.Response(400, json=cloud_error(132015, "(#132015) Template is Paused")),
        PERM,
        "132015",
        None,
        "Paused",
    ),
    "invalid-parameter": (
        httpx.Response(400, json=cloud_error(100, "(#100) Invalid parameter", "Unexpected key 'txt'")),
        PERM,
        "100",
        None,
        "Unexpected key 'txt'",
    ),
    "something-went-wrong": (
        httpx.Response(500, json=cloud_error(131000, "(#131000) Something went wrong")),
        RETRY,
        "131000",
        None,
        "Something went wrong",
    ),
    "service-unavailable": (
        httpx.Response(503, json=cloud_error(131016, "(#131016) Service unavailable")),
        RETRY,
        "131016",
        None,
        "",
    ),
    "api-unknown-400": (httpx.Response(400, json=cloud_error(1, "(#1) API Unknown")), RETRY, "1", None, ""),
    "api-service": (httpx.Response(503, json=cloud_error(2, "(#2) API Service")), RETRY, "2", None, ""),
    "bad-gateway-html": (httpx.Response(502, text="<html>Bad Gateway</html>"), RETRY, "http_502", None, ""),
    "gateway-timeout": (httpx.Response(504), UNKNOWN, "http_504", None, ""),
    "other-client-error": (
        httpx.Response(400, json=cloud_error(131009, "(#131009) Parameter value is not valid")),
        PERM,
        "131009",
        None,
        "not valid",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_documented_failure_gets_its_kind(case: str) -> None:
    answer, kind, code, retry_after, fragment = CASES[case]
    error = send_error(answer)
    assert error.kind is kind
    assert error.code == code
    assert error.status == answer.status_code
    if retry_after is None:
        assert error.retry_after is None
    else:
        assert error.retry_after == pytest.approx(retry_after)
    assert fragment in error.message


def test_outside_the_window_the_message_says_a_template_is_needed() -> None:
    answer = httpx.Response(400, json=cloud_error(131047, "(#131047) Re-engagement message"))
    error = send_error(answer)
    assert "24 hours" in error.message
    assert "approved template" in error.message


def test_a_template_error_keeps_the_platforms_details_over_its_title() -> None:
    details = "body: number of localizable_params (1) does not match the expected number of params (2)"
    answer = httpx.Response(
        400, json=cloud_error(132000, "(#132000) Number of parameters does not match", details)
    )
    error = send_error(answer, lambda c: c.send_template(ACCOUNT, "15550100199", "reminder", "en_US"))
    assert error.message == details


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("connection refused"), ErrorKind.RETRYABLE),
        (httpx.ConnectTimeout("connect timed out"), ErrorKind.RETRYABLE),
        (httpx.ReadTimeout("read timed out"), ErrorKind.UNKNOWN_OUTCOME),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            ErrorKind.UNKNOWN_OUTCOME,
        ),
    ],
)
def test_transport_failures_are_classified_by_whether_the_message_may_have_gone(
    exc: Exception, kind: ErrorKind
) -> None:
    assert send_error(exc).kind is kind


def test_a_success_without_a_message_id_has_an_unknown_outcome() -> None:
    answer = httpx.Response(200, json={"messaging_product": "whatsapp", "contacts": SENT["contacts"]})
    error = send_error(answer)
    assert error.kind is ErrorKind.UNKNOWN_OUTCOME
    assert error.code == "malformed_response"


def test_a_token_quoted_back_by_the_platform_never_reaches_the_error() -> None:
    answers = [
        httpx.Response(401, json=cloud_error(190, f"Invalid OAuth access token {CANARY}", f"token {CANARY}")),
        httpx.Response(400, json=cloud_error(131047, "(#131047) Re-engagement message", f"for {CANARY}")),
        httpx.Response(400, json=cloud_error(100, f"(#100) Invalid parameter {CANARY}")),
        httpx.Response(429, json=cloud_error(130429, f"Rate limit hit {CANARY}")),
    ]
    for answer in answers:
        error = send_error(answer)
        assert CANARY not in str(error)
        assert CANARY not in error.message
        assert CANARY not in error.code


def test_a_transport_error_naming_the_token_never_reaches_the_error() -> None:
    error = send_error(httpx.ConnectError(f"failed with Authorization: Bearer {CANARY}"))
    assert CANARY not in str(error)
