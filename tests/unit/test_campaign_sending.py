"""The campaign sender: a step fans out to the queue, each queued send goes to SES at most once, within
the rate, and the ledger says what became of each (sent, skipped, failed, or to be tried again)."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from campaign_send_fakes import CAMPAIGN, SENDER, USER, ZONE, batch, send_world, unsubscribe_url

from tidings.aws.campaign_mail import Outcome, SendResult
from tidings.campaigns.send_key import SendKey, send_from_tags
from tidings.campaigns.sending import (
    ANSWER_LOST,
    EVERY_SEND_FAILED,
    NOT_CONFIGURED,
    backoff_seconds,
)
from tidings.campaigns.ses_events import CampaignEmailEvents
from tidings.models.campaigns import CampaignStatus, SendStatus, StepState, Suppression
from tidings.store.memory.campaign_events import InMemoryCampaignEventRepository

THROTTLED = SendResult(
    Outcome.THROTTLED, code="TooManyRequestsException", detail="Maximum sending rate exceeded"
)
LOST = SendResult(Outcome.IN_DOUBT, code="ReadTimeoutError", detail="Read timeout on endpoint URL")
NO_CONNECTION = SendResult(Outcome.NOT_SENT, code="EndpointConnectionError", detail="Could not connect")
REJECTED = SendResult(Outcome.REJECTED, code="MessageRejected", detail="Email address is not verified.")
CONFIRM_WAIT = 300  # SenderSettings' default
PAUSED_ACCOUNT = SendResult(Outcome.BLOCKED, code="SendingPausedException", detail="sending is paused")


# -- a step fires --------------------------------------------------------------------------------


def test_a_step_plans_one_send_per_recipient_queues_them_ten_a_message_and_starts_the_campaign() -> None:
    world = send_world(23)

    answer = world.fire(1)

    assert answer == {"kind": "campaign_step", "outcome": "enqueued", "created": 23, "queued": 23}
    assert [len(json.loads(b)["emails"]) for b in world.queue.bodies] == [10, 10, 3]
    assert sorted(world.queued_emails()) == sorted(r.email for r in world.recipients)
    sends = world.sends.list_sends(USER, CAMPAIGN, n=1, limit=100).sends
    assert {s.status for s in sends} == {SendStatus.PLANNED}
    assert {(s.send_at, s.timezone) for s in sends} == {(world.step().send_at, ZONE)}
    assert world.step().state == StepState.FIRED
    assert world.campaign().status == CampaignStatus.ACTIVE
    assert world.campaign().started_at == world.clock.now()
    assert world.mail.calls == []  # a step sends nothing itself


def test_a_schedule_of_a_step_moved_since_does_nothing() -> None:
    world = send_world(3)
    stale = world.trigger(1, version=world.step().version + 5)

    answer = world.sender.handle(stale, lambda: 60_000)

    assert answer["outcome"] == "stale"
    assert world.queue.bodies == []
    assert world.step().state == StepState.WAITING
    assert world.campaign().status == CampaignStatus.SCHEDULED


@pytest.mark.parametrize(
    "status", [CampaignStatus.PAUSED, CampaignStatus.CANCELLED, CampaignStatus.COMPLETED]
)
def test_a_campaign_that_is_not_sending_queues_nothing(status: str) -> None:
    world = send_world(3, status=status)

    answer = world.fire(1)

    assert answer["outcome"] == "not_sending"
    assert world.queue.bodies == []
    assert world.sends.list_sends(USER, CAMPAIGN, limit=10).sends == []


def test_a_firing_run_again_after_it_stopped_midway_queues_only_what_is_still_planned() -> None:
    world = send_world(12)
    trigger = world.trigger(1)
    world.sender.handle(trigger, lambda: 60_000)
    first, second = world.queue.take()
    world.sender.handle(batch([first]), lambda: 100_000)  # the first ten go out; two wait
    # Lambda runs the same invocation again (the first one timed out before it answered)

    again = world.sender.handle(trigger, lambda: 60_000)

    assert again == {"kind": "campaign_step", "outcome": "enqueued", "created": 0, "queued": 2}
    assert world.queued_emails() == json.loads(second)["emails"]
    assert len(world.mail.calls) == 10


def test_without_a_sender_the_campaign_fails_and_nothing_is_queued() -> None:
    world = send_world(3, from_address="")

    answer = world.fire(1)

    assert answer["outcome"] == "not_configured"
    assert world.queue.bodies == []
    assert world.campaign().status == CampaignStatus.FAILED
    assert world.campaign().final_reason == NOT_CONFIGURED


# -- a batch is sent -------------------------------------------------------------------------------


def test_each_recipient_gets_the_email_once_with_its_own_message_id_and_the_step_counts_it() -> None:
    world = send_world(3)
    world.fire(1)

    answer = world.drain()

    assert answer == {"batchItemFailures": []}
    assert sorted(c["recipient"] for c in world.mail.calls) == [
        "r0@example.com",
        "r1@example.com",
        "r2@example.com",
    ]
    for call in world.mail.calls:
        assert call["sender"] == SENDER
        assert call["configuration_set"] == "tidings-campaigns"
        assert (call["tags"]["tidings_campaign"], call["tags"]["tidings_email"]) == (CAMPAIGN, "1")
        sent = world.sends.get(USER, CAMPAIGN, 1, call["recipient"])
        assert sent is not None
        assert sent.status == SendStatus.SENT
        assert sent.message_id is not None
        assert sent.message_id.startswith("ses-")
        assert sent.sent_at == call["at"]
    assert (world.step().sent, world.step().skipped, world.step().failed) == (3, 0, 0)


def test_the_email_is_rendered_for_its_recipient_with_the_one_click_unsubscribe_headers() -> None:
    world = send_world(1)
    world.fire(1)

    world.drain()

    (call,) = world.mail.calls
    message = world.mail.parsed(call)
    link = unsubscribe_url(USER, "r0@example.com", CAMPAIGN)
    assert message["Subject"] == "Email 1 for Reader0"
    assert message["From"] == SENDER
    assert message["To"] == "Reader0 <r0@example.com>"
    assert message["List-Unsubscribe"].strip() == f"<{link}>"  # folded onto its own line: one long URL
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    plain = text.get_content().replace("\r\n", "\n")
    assert "Hi Reader0,\nemail 1 from Sam Rivera." in plain
    assert plain.count(link) == 1  # the email shows it: no footer added
    assert "Homes near Portland this week" in html.get_content()
    assert f'<a href="{link}">Unsubscribe</a>' in html.get_content()


def test_sends_are_spaced_by_the_rate_each_instance_may_use() -> None:
    # the account allows 4 a second, shared by 2 instances: one email every half second here
    world = send_world(5, rate=4.0)
    world.fire(1)

    world.drain()

    times = [c["at"] for c in world.mail.calls]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [0.5] * 4
    assert world.mail.quota_reads == 1


def test_sends_under_way_side_by_side_each_go_once_and_are_counted() -> None:
    world = send_world(45, rate=400.0, send_workers=6)  # five messages of ten, the last of five
    world.suppressions.add(Suppression(USER, "r7@example.com", "unsubscribed", world.clock.now()))
    world.fire(1)
    world.mail.script["r3@example.com"] = [THROTTLED]  # its message comes back, the others' do not
    (holding_r3,) = [
        i for i, body in enumerate(world.queue.bodies) if "r3@example.com" in json.loads(body)["emails"]
    ]

    answer = world.drain()

    assert answer == {"batchItemFailures": [{"itemIdentifier": f"m-{holding_r3}"}]}
    recipients = sorted(c["recipient"] for c in world.mail.calls)
    expected = sorted(f"r{i}@example.com" for i in range(45) if i != 7)
    assert recipients == expected  # r3 once (throttled), everyone else once, r7 never
    step = world.step()
    assert (step.sent, step.skipped, step.failed) == (43, 1, 0)


def test_each_instance_keeps_its_own_pacer_and_reads_the_quota_once() -> None:
    # several instances in one process (the local lambda host's queue pollers) are threads
    world = send_world(1)
    pacers: list[object] = []

    worker = threading.Thread(target=lambda: pacers.extend([world.sender.pacer, world.sender.pacer]))
    worker.start()
    worker.join()
    here = world.sender.pacer

    assert pacers[0] is pacers[1]
    assert here is not pacers[0]
    assert here is world.sender.pacer
    assert world.mail.quota_reads == 2


def test_a_configured_rate_below_the_accounts_is_the_one_kept() -> None:
    world = send_world(3, rate=14.0, configured_rate=1.0)
    world.fire(1)

    world.drain()

    times = [c["at"] for c in world.mail.calls]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [2.0, 2.0]


def test_without_the_accounts_quota_the_configured_rate_alone_paces_and_without_either_nothing_goes() -> None:
    paced = send_world(2, rate=None, configured_rate=2.0)
    paced.fire(1)
    stuck = send_world(2, rate=None)
    stuck.fire(1)

    paced.drain()
    with pytest.raises(PermissionError):
        stuck.drain()

    first, second = paced.mail.calls
    assert (second["at"] - first["at"]).total_seconds() == 1.0  # 2/s over 2 instances
    assert stuck.mail.calls == []
    assert {s.status for s in stuck.sends.list_sends(USER, CAMPAIGN, limit=10).sends} == {SendStatus.PLANNED}


def test_an_unexpected_error_before_ses_is_called_releases_the_send_and_fails_the_invocation() -> None:
    world = send_world(1)
    world.fire(1)

    def broken(user_id: str, email: str, campaign_id: str) -> str:
        raise RuntimeError("the secrets store is unreachable")

    world.sender.unsubscribe_url = broken
    with pytest.raises(RuntimeError):
        world.drain()

    send = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert send is not None
    assert (send.status, send.reason) == (
        SendStatus.PLANNED,
        "RuntimeError: the secrets store is unreachable",
    )
    assert world.mail.calls == []


def test_a_suppressed_address_is_skipped_with_why_and_ses_never_hears_of_it() -> None:
    world = send_world(3)
    world.fire(1)
    world.suppressions.add(Suppression(USER, "r1@example.com", "unsubscribed", world.clock.now(), CAMPAIGN))

    world.drain()

    assert world.mail.to("r1@example.com") == []
    skipped = world.sends.get(USER, CAMPAIGN, 1, "r1@example.com")
    assert skipped is not None
    assert (skipped.status, skipped.reason) == (SendStatus.SKIPPED, "suppressed:unsubscribed")
    assert (world.step().sent, world.step().skipped) == (2, 1)


def test_queued_sends_of_a_campaign_cancelled_meanwhile_are_skipped_as_the_cancel_skips_them() -> None:
    world = send_world(2)
    world.fire(1)
    campaign = world.campaign()
    world.campaigns.update(replace(campaign, status=CampaignStatus.CANCELLED), campaign.version)

    world.drain()

    assert world.mail.calls == []
    for address in ("r0@example.com", "r1@example.com"):
        send = world.sends.get(USER, CAMPAIGN, 1, address)
        assert send is not None
        assert (send.status, send.reason) == (SendStatus.SKIPPED, "cancelled")
    assert world.step().skipped == 2


def test_a_step_that_fired_before_a_pause_finishes_and_the_paused_campaign_does_not_complete() -> None:
    world = send_world(2)
    world.fire(1)
    campaign = world.campaign()
    world.campaigns.update(replace(campaign, status=CampaignStatus.PAUSED), campaign.version)

    world.drain()

    assert sorted(c["recipient"] for c in world.mail.calls) == ["r0@example.com", "r1@example.com"]
    assert world.step().sent == 2
    assert world.campaign().status == CampaignStatus.PAUSED


def test_a_throttled_send_is_released_and_its_message_comes_back_after_the_backoff_then_goes_once() -> None:
    world = send_world(2)
    world.fire(1)
    world.mail.script["r0@example.com"] = [THROTTLED]
    bodies = list(world.queue.bodies)

    answer = world.drain()

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.queue.retries == [("r-0", 5)]
    released = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert released is not None
    assert (released.status, released.attempts) == (SendStatus.PLANNED, 1)
    assert released.reason is not None
    assert released.reason.startswith("TooManyRequestsException")
    # SQS hands the message out again: r1 (sent already) is not sent again, r0 goes now
    again = world.sender.handle(batch(bodies, receive_count=2), lambda: 100_000)

    assert again == {"batchItemFailures": []}
    assert len(world.mail.to("r0@example.com")) == 2  # refused once, accepted once
    assert len(world.mail.to("r1@example.com")) == 1
    sent = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert sent is not None
    assert (sent.status, sent.reason) == (SendStatus.SENT, None)
    assert (world.step().sent, world.step().failed) == (2, 0)


def test_after_a_throttle_the_instance_sends_nothing_for_a_second() -> None:
    world = send_world(2, rate=100.0)
    world.fire(1)
    world.mail.script["r0@example.com"] = [THROTTLED]

    world.drain()

    first, second = world.mail.calls
    assert (second["at"] - first["at"]).total_seconds() == 1.0


def ses_send_event(call: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The configuration set's Send event for a message SES took, as EventBridge carries it."""
    return {
        "source": "aws.ses",
        "detail-type": "Email Sent",
        "detail": {
            "eventType": "Send",
            "mail": {
                "timestamp": call["at"].isoformat(),
                "messageId": message_id,
                "destination": [call["recipient"]],
                "tags": {name: [value] for name, value in call["tags"].items()},
            },
            "send": {},
        },
    }


def test_an_answer_lost_is_held_until_ses_send_event_marks_it_sent_and_it_is_never_sent_again() -> None:
    world = send_world(1)
    world.fire(1)
    world.mail.script["r0@example.com"] = [LOST]
    bodies = list(world.queue.bodies)

    answer = world.drain()

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.queue.retries == [("r-0", CONFIRM_WAIT)]  # it comes back after the wait
    held = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert held is not None
    assert (held.status, held.reason, world.step().sent) == (SendStatus.SENDING, ANSWER_LOST, 0)
    events = CampaignEmailEvents(
        InMemoryCampaignEventRepository(), world.suppressions, world.clock, sends=world.sends
    )
    events.handle(ses_send_event(world.mail.calls[0], "ses-taken-0001"))
    sent = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert sent is not None
    assert (sent.status, sent.message_id, world.step().sent) == (SendStatus.SENT, "ses-taken-0001", 1)
    world.clock.advance(timedelta(seconds=CONFIRM_WAIT))
    assert world.sender.handle(batch(bodies, receive_count=2), lambda: 100_000) == {"batchItemFailures": []}
    assert len(world.mail.calls) == 1


def test_an_answer_lost_with_no_send_event_within_the_wait_is_sent_again_once() -> None:
    world = send_world(1)
    world.fire(1)
    world.mail.script["r0@example.com"] = [LOST]
    bodies = list(world.queue.bodies)
    world.drain()

    world.clock.advance(timedelta(seconds=CONFIRM_WAIT - 1))  # came back early (another send's back-off)
    early = world.sender.handle(batch(bodies, receive_count=2), lambda: 100_000)
    world.clock.advance(timedelta(seconds=1))
    late = world.sender.handle(batch(bodies, receive_count=3), lambda: 100_000)

    assert early == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.queue.retries[-1] == ("r-0", 1)  # looked at again when the wait ends
    assert late == {"batchItemFailures": []}
    assert len(world.mail.calls) == 2
    send = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert send is not None
    assert (send.status, send.message_id, send.attempts) == (SendStatus.SENT, "ses-0002", 2)
    assert world.step().sent == 1


def test_each_email_carries_its_send_key_in_its_tags() -> None:
    world = send_world(2)
    world.fire(1)
    world.drain()

    for call in world.mail.calls:
        tags = {name: [value] for name, value in call["tags"].items()}
        assert send_from_tags(tags, [call["recipient"]]) == SendKey(USER, CAMPAIGN, 1, call["recipient"])
        assert send_from_tags(tags, ["someone.else@example.com"]) is None
        assert (call["tags"]["tidings_campaign"], call["tags"]["tidings_email"]) == (CAMPAIGN, "1")


def test_a_request_that_never_reached_ses_is_tried_again_and_goes_once() -> None:
    world = send_world(1)
    world.fire(1)
    world.mail.script["r0@example.com"] = [NO_CONNECTION, NO_CONNECTION]
    bodies = list(world.queue.bodies)

    world.drain()
    world.sender.handle(batch(bodies, receive_count=2), lambda: 100_000)
    world.sender.handle(batch(bodies, receive_count=3), lambda: 100_000)

    assert world.queue.retries == [("r-0", 5), ("r-0", 10)]
    send = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert send is not None
    assert (send.status, send.attempts) == (SendStatus.SENT, 3)
    assert world.step().sent == 1


def test_a_refused_message_fails_with_ses_reason_and_a_campaign_whose_sends_all_failed_fails() -> None:
    world = send_world(1)
    world.fire(1)
    world.mail.script["r0@example.com"] = [REJECTED]

    world.drain()

    send = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert send is not None
    assert (send.status, send.reason) == (
        SendStatus.FAILED,
        "MessageRejected: Email address is not verified.",
    )
    assert world.step().failed == 1
    world.clock.advance(timedelta(days=3))
    world.mail.script["r0@example.com"] = [REJECTED]
    world.fire(2)
    world.drain()
    assert world.campaign().status == CampaignStatus.FAILED
    assert world.campaign().final_reason == EVERY_SEND_FAILED


def test_ses_refusing_the_whole_account_releases_the_send_for_at_least_a_minute() -> None:
    world = send_world(1)
    world.fire(1)
    world.mail.script["r0@example.com"] = [PAUSED_ACCOUNT]

    answer = world.drain()

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.queue.retries == [("r-0", 60)]
    send = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert send is not None
    assert send.status == SendStatus.PLANNED


def test_a_send_claimed_by_a_try_that_stopped_is_held_for_ses_word_and_a_held_one_is_looked_at_later() -> (
    None
):
    world = send_world(2)
    world.fire(1)
    bodies = list(world.queue.bodies)
    now = world.clock.now()
    stopped = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    busy = world.sends.get(USER, CAMPAIGN, 1, "r1@example.com")
    assert stopped is not None
    assert busy is not None
    world.sends.claim(stopped, now - timedelta(minutes=5), timedelta(seconds=150))  # its lease ran out
    world.sends.claim(busy, now, timedelta(seconds=150))  # another instance holds it now

    answer = world.sender.handle(batch(bodies), lambda: 100_000)

    assert world.mail.calls == []
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.queue.retries == [("r-0", CONFIRM_WAIT)]  # the longer of the two waits
    lost = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    held = world.sends.get(USER, CAMPAIGN, 1, "r1@example.com")
    assert lost is not None
    assert held is not None
    assert (lost.status, lost.reason, lost.leased_until) == (
        SendStatus.SENDING,
        ANSWER_LOST,
        now + timedelta(seconds=CONFIRM_WAIT),
    )
    assert held.status == SendStatus.SENDING


def test_a_message_with_no_time_left_comes_back_untouched() -> None:
    world = send_world(3)
    world.fire(1)

    answer = world.drain(remaining_ms=10_000)  # less than the 15 s margin

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.mail.calls == []
    assert {s.status for s in world.sends.list_sends(USER, CAMPAIGN, limit=10).sends} == {SendStatus.PLANNED}


def test_sends_stop_at_the_deadline_and_the_rest_come_back() -> None:
    # one email every 2 s; 16 s of the invocation left, 15 s kept in reserve: one goes
    world = send_world(3, rate=1.0)
    world.fire(1)

    answer = world.drain(remaining_ms=16_000)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert len(world.mail.calls) == 1
    statuses = sorted(s.status for s in world.sends.list_sends(USER, CAMPAIGN, limit=10).sends)
    assert statuses == [SendStatus.PLANNED, SendStatus.PLANNED, SendStatus.SENT]


def test_a_message_that_is_not_a_send_fails_alone() -> None:
    world = send_world(2)
    world.fire(1)
    bodies = ["{not json", *world.queue.take()]

    answer = world.sender.handle(batch(bodies), lambda: 100_000)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert len(world.mail.calls) == 2


def test_an_email_whose_variable_has_no_value_fails_with_the_variable_named() -> None:
    world = send_world(1)
    campaign = world.campaign()
    world.campaigns.update(
        replace(campaign, variables={"city": "Portland"}), campaign.version
    )  # no agentName
    world.fire(1)

    world.drain()

    assert world.mail.calls == []
    send = world.sends.get(USER, CAMPAIGN, 1, "r0@example.com")
    assert send is not None
    assert send.status == SendStatus.FAILED
    assert send.reason is not None
    assert send.reason.startswith("missing_variables")
    assert "agentName" in send.reason


def test_the_campaign_completes_when_the_last_step_has_counted_every_recipient() -> None:
    world = send_world(2)
    world.suppressions.add(Suppression(USER, "r1@example.com", "bounced", world.clock.now()))
    world.fire(1)
    world.drain()
    assert world.campaign().status == CampaignStatus.ACTIVE  # email 2 has not fired

    world.clock.advance(timedelta(days=3))
    world.fire(2)
    world.drain()

    campaign = world.campaign()
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign.completed_at == world.clock.now()
    assert campaign.final_reason is None
    assert len(world.mail.calls) == 2  # r0 twice, r1 (bounced) never


class InstanceStopped(Exception):
    """The invocation ends right there (a timeout, the instance recycled)."""


def test_an_instance_that_stops_right_after_a_send_is_marked_leaves_it_counted_and_the_campaign_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = send_world(1)
    world.fire(1)
    world.drain()
    world.clock.advance(timedelta(days=3))
    world.fire(2)
    bodies = list(world.queue.bodies)
    mark_sent = world.sends.mark_sent

    def mark_then_stop(*args: object, **kwargs: object) -> object:
        mark_sent(*args, **kwargs)  # type: ignore[arg-type]
        raise InstanceStopped()

    monkeypatch.setattr(world.sends, "mark_sent", mark_then_stop)
    with pytest.raises(InstanceStopped):
        world.drain()
    monkeypatch.undo()
    world.sender.handle(batch(bodies, receive_count=2), lambda: 100_000)  # SQS hands it out again

    assert world.step(2).sent == 1
    assert world.campaign().status == CampaignStatus.COMPLETED
    assert len(world.mail.to("r0@example.com")) == 2  # once per email


def test_backoff_doubles_from_five_seconds_to_ten_minutes_and_a_blocked_account_waits_a_minute() -> None:
    assert [backoff_seconds(n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff_seconds(1, blocked=True) == 60
    assert backoff_seconds(6, blocked=True) == 160
