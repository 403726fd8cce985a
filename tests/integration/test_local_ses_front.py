"""The local SES front before moto's SES: what went out is listed, the quota is SES's, and each fault
does to the client what the real failure would."""

from __future__ import annotations

import json
import queue
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from local_aws import ses_client

from infra.local.fakes.ses import SesFront
from infra.local.provision import LOCAL_CAMPAIGN_SENDER, LocalStack
from tidings.aws.campaign_mail import Outcome, SendResult, SesCampaignMail
from tidings.aws.mail import SesMail
from tidings.campaigns.message import EmailContent, OutgoingEmail, build_message

SENDER = LOCAL_CAMPAIGN_SENDER  # verified in moto by the local stack
LINK = "https://api.tidings.example/unsubscribe/tok"


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def front(local_stack: LocalStack, clock: FrozenClock) -> Iterator[SesFront]:
    with SesFront(local_stack.endpoints.moto, seed=7, clock=clock) as server:
        yield server


def client(front: SesFront) -> Any:
    return ses_client(front.url)


def raw(to: str, subject: str = "Spring update") -> bytes:
    content = EmailContent(subject, "Three new homes", "Hi,\nthe update.", "<p>Hi</p><p>the update</p>")
    return build_message(OutgoingEmail(SENDER, to, content, LINK, datetime(2027, 3, 1, tzinfo=UTC)))


def send(front: SesFront, to: str = "ana@example.com", sender: str = SENDER) -> SendResult:
    return SesCampaignMail(client(front)).send_raw(
        sender=sender,
        recipient=to,
        raw=raw(to),
        configuration_set="tidings-campaigns",
        tags={"tidings_email": "1"},
    )


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def call(url: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_message_moto_accepted_is_listed_as_it_went_out(front: SesFront) -> None:
    result = send(front, "ana@example.com")

    assert result.outcome == Outcome.ACCEPTED
    (email,) = get(f"{front.url}/_emails")["emails"]
    assert email["messageId"] == result.message_id
    assert email["to"] == ["ana@example.com"]
    assert email["from"] == SENDER
    assert email["subject"] == "Spring update"
    assert email["text"].startswith("Hi,\nthe update.")
    assert "<p>the update</p>" in email["html"]
    assert email["headers"]["List-Unsubscribe"] == f"<{LINK}>"
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["configurationSet"] == "tidings-campaigns"
    assert email["tags"] == {"tidings_email": "1"}
    assert email["sentAt"] == "2027-01-15T08:00:00.000Z"


def test_emails_are_filtered_by_recipient_and_forgotten_on_delete(front: SesFront) -> None:
    for to in ("ana@example.com", "ben@example.com", "ana@example.com"):
        send(front, to)

    assert len(get(f"{front.url}/_emails?to=ANA@example.com")["emails"]) == 2
    assert call(f"{front.url}/_emails", "DELETE") == (200, {"emails": []})
    assert get(f"{front.url}/_emails")["emails"] == []


def test_a_simple_notification_email_is_listed_too(front: SesFront) -> None:
    message_id = SesMail(client(front)).send_text(
        SENDER, ["ops@example.com"], "Alert raised", "Token expires"
    )

    (email,) = get(f"{front.url}/_emails")["emails"]
    assert (email["messageId"], email["subject"], email["text"], email["html"]) == (
        message_id,
        "Alert raised",
        "Token expires",
        None,
    )


def test_get_account_answers_the_quota_and_the_sends_of_the_last_day(front: SesFront) -> None:
    send(front)
    assert SesCampaignMail(client(front)).max_send_rate() == 14.0

    assert call(f"{front.url}/_quota", "POST", {"maxSendRate": 3, "max24HourSend": 200}) == (
        200,
        {"maxSendRate": 3.0, "max24HourSend": 200.0},
    )
    quota = client(front).get_account()["SendQuota"]
    assert quota == {"Max24HourSend": 200.0, "MaxSendRate": 3.0, "SentLast24Hours": 1.0}


def test_sends_over_the_rate_are_throttled_like_ses_and_pass_again_a_second_later(
    front: SesFront, clock: FrozenClock
) -> None:
    call(f"{front.url}/_quota", "POST", {"maxSendRate": 2})

    results = [send(front) for _ in range(3)]
    clock.now += 1.0
    later = send(front)

    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.THROTTLED]
    assert results[2].reason == "TooManyRequestsException: Maximum sending rate exceeded."
    assert later.outcome == Outcome.ACCEPTED
    assert len(get(f"{front.url}/_emails")["emails"]) == 3


def test_the_daily_quota_is_enforced_too(front: SesFront, clock: FrozenClock) -> None:
    call(f"{front.url}/_quota", "POST", {"max24HourSend": 2})
    send(front)
    clock.now += 10
    send(front)
    clock.now += 10

    refused = send(front)
    clock.now += 86_400
    accepted = send(front)

    assert refused.reason == "TooManyRequestsException: Daily message quota exceeded."
    assert accepted.outcome == Outcome.ACCEPTED


@pytest.mark.parametrize(
    ("kind", "outcome", "code", "went_out"),
    [
        ("throttle", Outcome.THROTTLED, "TooManyRequestsException", False),
        ("reject", Outcome.REJECTED, "MessageRejected", False),
        ("error500", Outcome.IN_DOUBT, "InternalFailure", False),
        ("timeout", Outcome.IN_DOUBT, "ConnectionClosedError", False),
        ("lost_response", Outcome.IN_DOUBT, "ConnectionClosedError", True),
    ],
)
def test_each_fault_does_what_the_real_failure_does(
    front: SesFront, kind: str, outcome: str, code: str, went_out: bool
) -> None:
    assert call(f"{front.url}/_faults", "POST", {"kind": kind, "count": 1})[0] == 200

    failed = send(front)
    after = send(front)

    assert (failed.outcome, failed.code) == (outcome, code)
    assert after.outcome == Outcome.ACCEPTED  # the fault was for one send
    assert len(get(f"{front.url}/_emails")["emails"]) == (2 if went_out else 1)


def test_a_fault_for_one_recipient_leaves_the_others_alone(front: SesFront) -> None:
    call(f"{front.url}/_faults", "POST", {"kind": "throttle", "count": 2, "to": "ben@example.com"})

    outcomes = [send(front, to).outcome for to in ("ana@example.com", "ben@example.com", "ben@example.com")]

    assert outcomes == [Outcome.ACCEPTED, Outcome.THROTTLED, Outcome.THROTTLED]
    assert get(f"{front.url}/_faults")["faults"] == []
    assert send(front, "ben@example.com").outcome == Outcome.ACCEPTED


def test_a_fault_rate_of_one_fails_every_send_until_the_faults_are_cleared(front: SesFront) -> None:
    call(f"{front.url}/_faults", "POST", {"kind": "throttle", "rate": 1.0})

    assert [send(front).outcome for _ in range(3)] == [Outcome.THROTTLED] * 3
    call(f"{front.url}/_faults", "DELETE")
    assert send(front).outcome == Outcome.ACCEPTED


def test_motos_own_refusal_of_an_unverified_sender_comes_through(front: SesFront) -> None:
    result = send(front, sender="someone@unverified.example")

    assert result.outcome == Outcome.REJECTED
    assert result.code == "MessageRejected"
    assert get(f"{front.url}/_emails")["emails"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "melt"},
        {"kind": "throttle", "count": 0},
        {"kind": "throttle", "rate": 2},
        {"kind": "throttle", "count": "x"},
    ],
)
def test_a_fault_that_makes_no_sense_is_refused(front: SesFront, body: dict[str, Any]) -> None:
    status, answer = call(f"{front.url}/_faults", "POST", body)

    assert status == 400
    assert answer["message"]
    assert get(f"{front.url}/_faults")["faults"] == []


def test_each_message_taken_is_published_as_its_send_event_with_its_tags_even_when_its_answer_was_lost(
    local_stack: LocalStack, clock: FrozenClock
) -> None:
    published: queue.Queue[dict[str, Any]] = queue.Queue()
    with SesFront(local_stack.endpoints.moto, seed=7, clock=clock, on_event=published.put) as front:
        call(f"{front.url}/_faults", "POST", {"kind": "lost_response", "count": 1, "to": "ana@example.com"})
        call(f"{front.url}/_faults", "POST", {"kind": "timeout", "count": 1, "to": "cy@example.com"})

        outcomes = [
            send(front, to).outcome for to in ("ana@example.com", "cy@example.com", "ben@example.com")
        ]
        events = [published.get(timeout=10) for _ in range(2)]
        listed = get(f"{front.url}/_emails")["emails"]

    assert outcomes == [Outcome.IN_DOUBT, Outcome.IN_DOUBT, Outcome.ACCEPTED]
    assert {e["to"][0]: e["messageId"] for e in listed} == {
        e["detail"]["mail"]["destination"][0]: e["detail"]["mail"]["messageId"] for e in events
    }  # ana's (taken, answer lost) and ben's; cy's never reached SES
    for event in events:
        assert (event["source"], event["detail-type"], event["detail"]["eventType"]) == (
            "aws.ses",
            "Email Sent",
            "Send",
        )
        assert event["detail"]["mail"]["tags"] == {
            "tidings_email": ["1"],
            "ses:configuration-set": ["tidings-campaigns"],
        }
