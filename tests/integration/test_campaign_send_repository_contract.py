"""The in-memory campaign step and send repositories keep the DynamoDB ones' contract: every test runs the
same calls on both (the latter on a table of its own in DynamoDB Local) and expects the same outcome,
down to which moves are refused, in which order things come back and how pages are cut."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.campaigns import CampaignStep, Send, SendStatus, StepState
from tidings.store.campaign_sends import (
    AUDIENCE_CHUNK,
    AudienceZone,
    DynamoSendRepository,
    DynamoStepRepository,
    SendRepository,
    StepRepository,
)
from tidings.store.memory.campaign_sends import campaign_send_stores

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)

table = contract_table


@pytest.fixture
def stores(table: Table | None) -> tuple[StepRepository, SendRepository]:
    if table is None:
        return campaign_send_stores()
    return DynamoStepRepository(table.name, table.client), DynamoSendRepository(table.name, table.client)


@pytest.fixture
def user() -> str:
    return user_id()


def step(user: str, n: int, zone: str, recipients: int = 2, **fields: object) -> CampaignStep:
    return CampaignStep(
        user_id=user,
        campaign_id="cmp-1",
        n=n,
        timezone=zone,
        send_at=NOW + timedelta(days=n),
        local_time="2027-03-02T09:00:00-05:00",
        recipients=recipients,
        created_at=NOW,
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def send(user: str, email: str, n: int = 1) -> Send:
    return Send(
        user_id=user,
        campaign_id="cmp-1",
        n=n,
        email=email,
        status=SendStatus.PLANNED,
        send_at=NOW,
        local_time="2027-03-01T07:00:00-05:00",
        timezone="America/New_York",
    )


def test_a_plan_is_stored_whole_and_replaced_whole(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    steps, _ = stores
    many = tuple(f"r{i:05d}@example.com" for i in range(AUDIENCE_CHUNK * 2 + 5))  # three audience items
    first = [
        step(user, 2, "Europe/London"),
        step(user, 10, "America/New_York"),
        step(user, 1, "Asia/Kolkata"),
    ]
    audience = [
        AudienceZone("Europe/London", ("b@example.com", "a@example.com"), suppressed=("x@example.com",)),
        AudienceZone("Asia/Kolkata", many),
    ]
    steps.replace_plan(user, "cmp-1", first, audience)

    stored = steps.steps(user, "cmp-1")
    assert [(s.n, s.timezone) for s in stored] == [
        (1, "Asia/Kolkata"),
        (2, "Europe/London"),
        (10, "America/New_York"),
    ]
    assert stored[1] == first[0]  # counts start at zero, every field comes back as written
    assert steps.get_step(user, "cmp-1", 2, "Europe/London") == first[0]
    assert steps.get_step(user, "cmp-1", 2, "Asia/Kolkata") is None
    assert steps.audience(user, "cmp-1") == [
        AudienceZone("Asia/Kolkata", many),
        AudienceZone("Europe/London", ("a@example.com", "b@example.com"), ("x@example.com",)),
    ]
    assert steps.zone_recipients(user, "cmp-1", "Asia/Kolkata") == list(many)
    assert steps.zone_recipients(user, "cmp-1", "Europe/London") == ["a@example.com", "b@example.com"]
    assert steps.zone_recipients(user, "cmp-1", "Europe/Paris") == []

    steps.replace_plan(
        user, "cmp-1", [step(user, 1, "Europe/Paris")], [AudienceZone("Europe/Paris", ("p@ex.com",))]
    )
    assert [(s.n, s.timezone) for s in steps.steps(user, "cmp-1")] == [(1, "Europe/Paris")]
    assert steps.audience(user, "cmp-1") == [AudienceZone("Europe/Paris", ("p@ex.com",))]
    assert steps.steps(user, "cmp-2") == []


def test_steps_move_only_from_the_version_read_and_fire_once(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    steps, _ = stores
    waiting = step(user, 1, "America/St_Johns")
    steps.replace_plan(user, "cmp-1", [waiting], [])
    later = NOW + timedelta(days=3)

    held = steps.move_step(waiting, NOW, state=StepState.HELD)
    assert (held.state, held.version) == (StepState.HELD, 2)
    assert outcome(lambda: steps.move_step(waiting, NOW, state=StepState.WAITING)) == "StepConflict"
    resumed = steps.move_step(held, NOW, state=StepState.WAITING, send_at=later, local_time="later")
    assert steps.get_step(user, "cmp-1", 1, "America/St_Johns") == resumed
    assert (resumed.send_at, resumed.local_time, resumed.version) == (later, "later", 3)

    transcript = [
        outcome(lambda: steps.mark_fired(user, "cmp-1", 1, "America/St_Johns", 2, NOW)),  # stale schedule
        outcome(lambda: steps.mark_fired(user, "cmp-1", 1, "America/St_Johns", 3, NOW)),
        outcome(lambda: steps.mark_fired(user, "cmp-1", 1, "America/St_Johns", 3, NOW)),  # fired already
        outcome(lambda: steps.mark_fired(user, "cmp-1", 2, "America/St_Johns", 1, NOW)),  # no such step
    ]
    assert transcript == ["StepConflict", "ok", "StepConflict", "StepConflict"]
    fired = steps.get_step(user, "cmp-1", 1, "America/St_Johns")
    assert fired is not None
    assert (fired.state, fired.fired_at, fired.version) == (StepState.FIRED, NOW, 4)


def test_counts_add_up_without_touching_the_step(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    steps, _ = stores
    steps.replace_plan(user, "cmp-1", [step(user, 1, "Pacific/Chatham")], [])

    assert steps.add_counts(user, "cmp-1", 1, "Pacific/Chatham", sent=2, skipped=1)
    assert steps.add_counts(user, "cmp-1", 1, "Pacific/Chatham", sent=1, failed=1, opened=2, clicked=1)
    assert not steps.add_counts(user, "cmp-1", 2, "Pacific/Chatham", sent=1)  # no such step
    got = steps.get_step(user, "cmp-1", 1, "Pacific/Chatham")
    assert got is not None
    assert (got.sent, got.skipped, got.failed, got.opened, got.clicked, got.version) == (3, 1, 1, 2, 1, 1)
    assert steps.steps(user, "cmp-1") == [got]


def test_a_send_is_created_once_and_moves_only_as_the_ledger_allows(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    _, sends = stores
    planned = send(user, "ana@example.com")
    assert sends.create_if_absent(planned)
    assert not sends.create_if_absent(replace(planned, status=SendStatus.SENT))
    assert sends.get(user, "cmp-1", 1, "ana@example.com") == planned

    claim = sends.claim(planned, NOW, LEASE)
    assert (claim.status, claim.attempts, claim.leased_until, claim.version) == (
        SendStatus.SENDING,
        1,
        NOW + LEASE,
        2,
    )
    transcript = [
        outcome(lambda: sends.claim(planned, NOW, LEASE)),  # a second sender
        outcome(lambda: sends.mark_sent(planned, "m-0", NOW)),  # not the claim that holds it
        outcome(lambda: sends.release(claim, NOW, "throttled")),
    ]
    assert transcript == ["SendConflict", "SendConflict", "ok"]
    released = sends.get(user, "cmp-1", 1, "ana@example.com")
    assert released is not None
    assert (released.status, released.attempts, released.reason, released.leased_until) == (
        SendStatus.PLANNED,
        1,
        "throttled",
        None,
    )
    again = sends.claim(released, NOW, LEASE)
    done = sends.mark_sent(again, "0100018e-ses-id", NOW + timedelta(seconds=1))
    assert sends.get(user, "cmp-1", 1, "ana@example.com") == done
    assert (done.status, done.message_id, done.sent_at, done.attempts) == (
        SendStatus.SENT,
        "0100018e-ses-id",
        NOW + timedelta(seconds=1),
        2,
    )
    after_sent = [
        outcome(lambda: sends.mark_skipped(done, "suppressed", NOW)),
        outcome(lambda: sends.mark_failed(done, "MessageRejected", NOW)),
        outcome(lambda: sends.release(done, NOW)),
        outcome(lambda: sends.claim(done, NOW, LEASE)),
        outcome(lambda: sends.mark_sent(send(user, "nobody@example.com"), "m", NOW)),
    ]
    assert after_sent == ["SendConflict"] * 5

    other = send(user, "bo@example.com")
    sends.create_if_absent(other)
    skipped = sends.mark_skipped(other, "suppressed", NOW)
    assert (skipped.status, skipped.reason, skipped.updated_at) == (SendStatus.SKIPPED, "suppressed", NOW)
    third = send(user, "cy@example.com")
    sends.create_if_absent(third)
    failed = sends.mark_failed(sends.claim(third, NOW, LEASE), "MessageRejected: address blacklisted", NOW)
    assert sends.get(user, "cmp-1", 1, "cy@example.com") == failed


def test_settling_a_send_counts_it_on_its_step_with_the_same_write_and_a_repeated_move_counts_nothing(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    steps, sends = stores
    steps.replace_plan(user, "cmp-1", [step(user, 1, "America/New_York", recipients=3)], [])
    a, b, c = (send(user, f"{name}@example.com") for name in ("a", "b", "c"))
    for planned in (a, b, c):
        sends.create_if_absent(planned)

    claim_a = sends.claim(a, NOW, LEASE)
    sends.release(claim_a, NOW, "throttled")  # claims and releases count nothing
    claim_a = sends.claim(sends.get(user, "cmp-1", 1, "a@example.com") or a, NOW, LEASE)
    sends.mark_sent(claim_a, "m-1", NOW)
    sends.mark_skipped(b, "suppressed:unsubscribed", NOW)
    sends.mark_failed(sends.claim(c, NOW, LEASE), "MessageRejected", NOW)
    repeated = [  # a retry of a move that was made (its answer lost): refused, and not counted again
        outcome(lambda: sends.mark_sent(claim_a, "m-1", NOW)),
        outcome(lambda: sends.mark_skipped(b, "suppressed:unsubscribed", NOW)),
    ]

    assert repeated == ["SendConflict", "SendConflict"]
    got = steps.get_step(user, "cmp-1", 1, "America/New_York")
    assert got is not None
    assert (got.sent, got.skipped, got.failed, got.version) == (1, 1, 1, 1)


def test_sends_of_one_step_settled_at_the_same_moment_are_each_counted_once(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    steps, sends = stores
    steps.replace_plan(user, "cmp-1", [step(user, 1, "America/New_York", recipients=24)], [])
    claims = []
    for i in range(24):
        planned = send(user, f"r{i:02d}@example.com")
        sends.create_if_absent(planned)
        claims.append(sends.claim(planned, NOW, LEASE))

    with ThreadPoolExecutor(max_workers=8) as pool:  # the transactions meet on the one counts item
        list(pool.map(lambda held: sends.mark_sent(held, f"m-{held.email}", NOW), claims))

    got = steps.get_step(user, "cmp-1", 1, "America/New_York")
    assert got is not None
    assert got.sent == 24
    assert {s.status for s in sends.iter_sends(user, "cmp-1", 1)} == {SendStatus.SENT}


def test_the_sends_of_a_queue_message_are_read_together(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    _, sends = stores
    for name in ("ana", "bo", "cy"):
        sends.create_if_absent(send(user, f"{name}@example.com"))
    sends.create_if_absent(send(user, "ana@example.com", n=2))
    bo = sends.get(user, "cmp-1", 1, "bo@example.com")
    assert bo is not None
    skipped = sends.mark_skipped(bo, "suppressed", NOW)

    found = sends.get_many(user, "cmp-1", 1, ["cy@example.com", "bo@example.com", "nobody@example.com"])

    assert found == {
        "cy@example.com": sends.get(user, "cmp-1", 1, "cy@example.com"),
        "bo@example.com": skipped,
    }
    assert sends.get_many(user, "cmp-1", 2, ["ana@example.com", "bo@example.com"]).keys() == {
        "ana@example.com"
    }
    assert sends.get_many(user, "cmp-1", 1, []) == {}
    assert (
        outcome(lambda: sends.get_many(user, "cmp-1", 1, [f"r{i}@x.io" for i in range(101)])) == "ValueError"
    )


def test_first_opens_and_clicks_are_noted_once(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    _, sends = stores
    sends.create_if_absent(send(user, "ana@example.com"))
    at = NOW + timedelta(hours=2)

    opens = [
        sends.record_open(user, "cmp-1", 1, "ana@example.com", at),
        sends.record_open(user, "cmp-1", 1, "ana@example.com", at + timedelta(hours=1)),
        sends.record_open(user, "cmp-1", 1, "nobody@example.com", at),
        sends.record_click(user, "cmp-1", 1, "ana@example.com", at),
        sends.record_click(user, "cmp-1", 1, "ana@example.com", at),
    ]
    assert opens == [True, False, False, True, False]
    got = sends.get(user, "cmp-1", 1, "ana@example.com")
    assert got is not None
    assert (got.opened_at, got.clicked_at) == (at, at)


def test_the_ledger_lists_by_key_with_filters_and_cursors(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    _, sends = stores
    for n in (1, 2, 10):
        for name in ("cy", "ana", "bo"):
            sends.create_if_absent(send(user, f"{name}@example.com", n))
    bo = sends.get(user, "cmp-1", 2, "bo@example.com")
    assert bo is not None
    sends.mark_skipped(bo, "suppressed", NOW)

    def keys_of(page: object) -> list[tuple[int, str]]:
        return [(s.n, s.email) for s in page.sends]  # type: ignore[attr-defined]

    first = sends.list_sends(user, "cmp-1", limit=4)
    # keys sort as text: SEND#10# comes before SEND#2#
    assert keys_of(first) == [
        (1, "ana@example.com"),
        (1, "bo@example.com"),
        (1, "cy@example.com"),
        (10, "ana@example.com"),
    ]
    second = sends.list_sends(user, "cmp-1", limit=4, cursor=first.next_cursor)
    assert keys_of(second) == [
        (10, "bo@example.com"),
        (10, "cy@example.com"),
        (2, "ana@example.com"),
        (2, "bo@example.com"),
    ]
    third = sends.list_sends(user, "cmp-1", limit=4, cursor=second.next_cursor)
    assert (keys_of(third), third.next_cursor) == ([(2, "cy@example.com")], None)

    by_n = sends.list_sends(user, "cmp-1", n=2, limit=10)
    assert (len(by_n.sends), by_n.next_cursor) == (3, None)
    skipped = sends.list_sends(user, "cmp-1", status=SendStatus.SKIPPED)
    assert (keys_of(skipped), skipped.next_cursor) == ([(2, "bo@example.com")], None)
    ana = sends.list_sends(user, "cmp-1", email="ana@example.com", limit=2)
    assert keys_of(ana) == [(1, "ana@example.com"), (10, "ana@example.com")]
    rest = sends.list_sends(user, "cmp-1", email="ana@example.com", limit=2, cursor=ana.next_cursor)
    assert (keys_of(rest), rest.next_cursor) == ([(2, "ana@example.com")], None)
    one = sends.list_sends(user, "cmp-1", n=10, email="cy@example.com", status=SendStatus.PLANNED)
    assert (keys_of(one), one.next_cursor) == ([(10, "cy@example.com")], None)
    assert sends.list_sends(user, "cmp-1", n=10, email="cy@example.com", status=SendStatus.SENT).sends == []

    assert [s.email for s in sends.iter_sends(user, "cmp-1", 10)] == [
        "ana@example.com",
        "bo@example.com",
        "cy@example.com",
    ]
    assert [s.email for s in sends.iter_sends(user, "cmp-1", 1, after_email="ana@example.com")] == [
        "bo@example.com",
        "cy@example.com",
    ]
    refused = [
        outcome(lambda: sends.list_sends(user, "cmp-1", cursor="not-a-cursor")),
        outcome(lambda: sends.list_sends(user, "cmp-1", n=1, cursor=second.next_cursor)),  # another listing's
        outcome(lambda: sends.list_sends(user, "cmp-1", limit=0)),
        outcome(lambda: sends.list_sends(user, "cmp-1", status="bounced")),
    ]
    assert refused == ["ValueError"] * 4


def test_cancelling_skips_what_is_still_planned_and_a_deleted_plan_is_gone(
    stores: tuple[StepRepository, SendRepository], user: str
) -> None:
    steps, sends = stores
    steps.replace_plan(
        user, "cmp-1", [step(user, 1, "Europe/London")], [AudienceZone("Europe/London", ("a@x.io",))]
    )
    for name in ("a", "b", "c"):
        sends.create_if_absent(send(user, f"{name}@example.com"))
    a = sends.get(user, "cmp-1", 1, "a@example.com")
    assert a is not None
    sends.mark_sent(sends.claim(a, NOW, LEASE), "m-1", NOW)

    assert sends.skip_planned(user, "cmp-1", "cancelled", NOW) == 2
    statuses = [(s.email, s.status, s.reason) for s in sends.list_sends(user, "cmp-1").sends]
    assert statuses == [
        ("a@example.com", SendStatus.SENT, None),
        ("b@example.com", SendStatus.SKIPPED, "cancelled"),
        ("c@example.com", SendStatus.SKIPPED, "cancelled"),
    ]
    assert sends.skip_planned(user, "cmp-1", "cancelled", NOW) == 0

    steps.delete_plan(user, "cmp-1")
    assert steps.steps(user, "cmp-1") == []
    assert steps.audience(user, "cmp-1") == []
    assert sends.list_sends(user, "cmp-1").sends == []
