"""The SES v2 adapter sorts every answer into what it means for the email, and never retries by itself;
the queue adapter batches in tens and sends again what SQS did not take."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from tidings.aws.campaign_mail import Outcome, SesCampaignMail, email_tags
from tidings.aws.campaign_queue import EnqueueFailed, SqsSendQueue
from tidings.campaigns.triggers import CampaignStepTrigger, QueueBatch, ValidationError, parse_campaign_event

RAW = b"From: a@harbour.example\r\nTo: b@example.com\r\nSubject: x\r\n\r\nhi\r\n"
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/campaign-sends"


def ses() -> Any:
    return boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")


def send(mail: SesCampaignMail) -> Any:
    return mail.send_raw(
        sender="Harbour <a@harbour.example>",
        recipient="b@example.com",
        raw=RAW,
        configuration_set="tidings-campaigns",
        tags={"tidings_campaign": "cmp-01", "tidings_email": "2", "bad tag": "x y"},
    )


def test_an_accepted_message_answers_ses_id_and_the_request_names_the_configuration_set() -> None:
    client = ses()
    with Stubber(client) as stub:
        stub.add_response(
            "send_email",
            {"MessageId": "0100018e-abc"},
            {
                "FromEmailAddress": "Harbour <a@harbour.example>",
                "Destination": {"ToAddresses": ["b@example.com"]},
                "Content": {"Raw": {"Data": RAW}},
                "ConfigurationSetName": "tidings-campaigns",
                "EmailTags": [
                    {"Name": "tidings_campaign", "Value": "cmp-01"},
                    {"Name": "tidings_email", "Value": "2"},
                ],
            },
        )
        result = send(SesCampaignMail(client))

    assert (result.outcome, result.message_id) == (Outcome.ACCEPTED, "0100018e-abc")


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        ("TooManyRequestsException", 429, Outcome.THROTTLED),
        ("Throttling", 400, Outcome.THROTTLED),
        ("LimitExceededException", 400, Outcome.THROTTLED),
        ("MessageRejected", 400, Outcome.REJECTED),
        ("BadRequestException", 400, Outcome.REJECTED),
        ("SendingPausedException", 400, Outcome.BLOCKED),
        ("AccountSuspendedException", 400, Outcome.BLOCKED),
        ("NotFoundException", 404, Outcome.BLOCKED),
        ("AccessDeniedException", 403, Outcome.BLOCKED),
        ("ServiceUnavailable", 503, Outcome.NOT_SENT),
        ("InternalFailure", 500, Outcome.IN_DOUBT),
    ],
)
def test_each_ses_error_means_what_its_documentation_says(code: str, status: int, outcome: str) -> None:
    client = ses()
    with Stubber(client) as stub:
        stub.add_client_error("send_email", code, "told so", http_status_code=status)
        result = send(SesCampaignMail(client))

    assert result.outcome == outcome
    assert result.reason == f"{code}: told so"


class _Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send_email(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        raise self.error


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"), Outcome.NOT_SENT),
        (ConnectTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"), Outcome.NOT_SENT),
        (ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"), Outcome.IN_DOUBT),
        (ConnectionClosedError(endpoint_url="https://email.us-east-1.amazonaws.com"), Outcome.IN_DOUBT),
    ],
)
def test_a_request_that_never_left_is_not_sent_and_one_whose_answer_was_lost_is_in_doubt(
    error: Exception, outcome: str
) -> None:
    client = _Failing(error)

    result = send(SesCampaignMail(client))

    assert result.outcome == outcome
    assert result.code == type(error).__name__
    assert client.calls == 1


def test_the_client_it_makes_never_retries_and_gives_up_reading_after_ten_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    mail = SesCampaignMail()

    config = mail.client.meta.config
    assert config.retries["total_max_attempts"] == 1
    assert (config.connect_timeout, config.read_timeout) == (3.0, 10.0)


def test_the_send_rate_is_the_accounts_max_send_rate() -> None:
    client = ses()
    with Stubber(client) as stub:
        stub.add_response(
            "get_account",
            {"SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 3.0}},
        )
        assert SesCampaignMail(client).max_send_rate() == 14.0


def test_only_tags_ses_can_carry_are_passed_on() -> None:
    assert email_tags({"ok_1": "v-2", "has space": "v", "k": "", "x" * 257: "v"}) == [
        {"Name": "ok_1", "Value": "v-2"}
    ]


def sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")


def test_messages_go_ten_a_batch_and_an_entry_sqs_did_not_take_goes_again() -> None:
    client = sqs()
    bodies = [f"body-{i}" for i in range(12)]
    with Stubber(client) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [
                    {"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in range(10) if i != 3
                ],
                "Failed": [{"Id": "3", "SenderFault": False, "Code": "InternalError"}],
            },
            {"QueueUrl": URL, "Entries": [{"Id": str(i), "MessageBody": bodies[i]} for i in range(10)]},
        )
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "3", "MessageId": "m3", "MD5OfMessageBody": "x"}], "Failed": []},
            {"QueueUrl": URL, "Entries": [{"Id": "3", "MessageBody": "body-3"}]},
        )
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [
                    {"Id": str(i), "MessageId": f"n{i}", "MD5OfMessageBody": "x"} for i in range(2)
                ],
                "Failed": [],
            },
            {"QueueUrl": URL, "Entries": [{"Id": str(i), "MessageBody": bodies[10 + i]} for i in range(2)]},
        )
        SqsSendQueue(URL, client).enqueue(bodies)
        stub.assert_no_pending_responses()


def test_an_entry_refused_as_the_senders_fault_fails_the_enqueue() -> None:
    client = sqs()
    with Stubber(client) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [],
                "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents"}],
            },
        )
        with pytest.raises(EnqueueFailed, match="InvalidMessageContents"):
            SqsSendQueue(URL, client).enqueue(["\x00"])


def test_a_message_comes_back_after_the_seconds_asked_capped_at_twelve_hours() -> None:
    client = sqs()
    with Stubber(client) as stub:
        stub.add_response(
            "change_message_visibility", {}, {"QueueUrl": URL, "ReceiptHandle": "rh", "VisibilityTimeout": 40}
        )
        stub.add_response(
            "change_message_visibility",
            {},
            {"QueueUrl": URL, "ReceiptHandle": "rh", "VisibilityTimeout": 43200},
        )
        queue = SqsSendQueue(URL, client)
        queue.retry_after("rh", 40)
        queue.retry_after("rh", 10**6)


def test_a_step_trigger_and_a_queue_batch_are_told_apart_and_bad_ones_refused() -> None:
    step = parse_campaign_event(
        {
            "kind": "campaign_step",
            "userId": "u",
            "campaignId": "c",
            "n": 2,
            "timezone": "Asia/Tokyo",
            "version": 3,
        }
    )
    queue = parse_campaign_event(
        {"Records": [{"messageId": "m", "receiptHandle": "r", "body": "{}", "attributes": {}}]}
    )

    assert isinstance(step, CampaignStepTrigger)
    assert (step.n, step.timezone, step.version) == (2, "Asia/Tokyo", 3)
    assert isinstance(queue, QueueBatch)
    assert queue.records[0].receive_count == 1
    for bad in (
        {"kind": "campaign_step", "userId": "u", "campaignId": "c", "n": 0, "timezone": "Z", "version": 1},
        {"kind": "other"},
        {},
    ):
        with pytest.raises(ValidationError):
            parse_campaign_event(bad)
    with pytest.raises(ValidationError):
        queue.records[0].sends()  # {} names no sends
