"""Delivering recorded activities to the CRM: batches of the connector's size, in-call retries, a write
whose answer was lost reconciled before it is written again, per-record failures, durable retries with
back-off for 7 days, a lease that keeps two deliveries apart, and bad records that never block the
stream."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from activity_fakes import LOST, FakeCrm, activity, activity_world, stream_record
from integration_fakes import NOW, USER

from tidings.core.triggers import parse_trigger
from tidings.crm.delivery import LEASE
from tidings.integrations.connectors.base import ConnectorError
from tidings.models.crm import ActivityStatus
from tidings.models.integrations import Status
from tidings.store.activities import activity_to_item
from tidings.store.dynamo import serialize

DOWN = ConnectorError("unreachable", "HubSpot answered 503", status=503)


@pytest.mark.parametrize("parallel", [False, True], ids=["one by one", "on a pool"])
def test_activities_go_out_in_batches_of_the_providers_size_and_each_is_synced_with_the_crms_id(
    parallel: bool,
) -> None:
    pool = ThreadPoolExecutor(max_workers=8) if parallel else None
    hubspot_like = activity_world(FakeCrm(batch_max=100), pool=pool)
    recorded = [a for n in range(3) for a in hubspot_like.record(*(activity(100 * n + i) for i in range(84)))]

    result = hubspot_like.stream(*recorded)

    assert result == {"batchItemFailures": []}
    assert [len(ids) for ids in hubspot_like.crm.writes] == [100, 100, 52]
    for one in recorded:
        stored = hubspot_like.stored(one)
        assert stored.status == ActivityStatus.SYNCED
        assert stored.crm_id == hubspot_like.crm.held[one.activity_id]
        assert (stored.attempts, stored.synced_at, stored.next_attempt_at) == (1, NOW, None)
        assert hubspot_like.crm.copies(one.activity_id) == 1

    one_by_one = activity_world(FakeCrm(provider="hubspot", batch_max=1))
    three = one_by_one.record(activity(1), activity(2), activity(3))
    one_by_one.stream(*three)
    assert one_by_one.crm.writes == [[a.activity_id] for a in three]


def test_a_throttled_write_is_retried_in_the_call_after_the_crms_retry_after() -> None:
    world = activity_world(
        FakeCrm(faults=[ConnectorError("rate_limited", "429", status=429, retry_after=3.0)])
    )
    (note,) = world.record(activity())

    world.stream(note)

    assert len(world.crm.writes) == 2
    assert world.clock.now() == NOW + timedelta(seconds=3)  # Retry-After 3 s rather than 1 s
    stored = world.stored(note)
    assert (stored.status, stored.attempts) == (ActivityStatus.SYNCED, 1)


def test_a_lost_answer_is_reconciled_before_any_retry_so_the_crm_holds_each_activity_once() -> None:
    world = activity_world(FakeCrm(faults=[LOST]))
    notes = world.record(activity(1), activity(2, client="c-2"))

    world.stream(*notes)

    ids = [n.activity_id for n in notes]
    assert world.crm.writes == [ids]  # not written again: the CRM said it holds both
    assert world.crm.finds == [ids]
    assert all(world.crm.copies(i) == 1 for i in ids)
    assert all(world.stored(n).crm_id == world.crm.held[n.activity_id] for n in notes)
    assert world.delivery.run_due().found_written == 0  # nothing left to deliver


def test_a_crm_that_failed_for_sure_is_not_searched_before_the_next_write() -> None:
    crm = FakeCrm(faults=[DOWN, DOWN, DOWN, DOWN])  # four 503s: the first try and its three retries
    world = activity_world(crm)
    (note,) = world.record(activity())

    world.stream(note)
    assert world.stored(note).status == ActivityStatus.PENDING
    assert world.stored(note).in_doubt is False
    world.w.clock.advance(timedelta(seconds=61))
    world.delivery.run_due()

    assert crm.finds == []  # a 503 wrote nothing: nothing to look for
    assert len(crm.writes) == 5
    assert world.stored(note).status == ActivityStatus.SYNCED


def test_a_lost_answer_keeps_the_activity_in_doubt_until_the_crm_is_asked_in_a_later_attempt() -> None:
    crm = FakeCrm(faults=[LOST], find_faults=[DOWN, DOWN, DOWN])  # the search stays down this attempt
    world = activity_world(crm)
    (note,) = world.record(activity())

    world.stream(note)
    waiting = world.stored(note)
    assert (waiting.status, waiting.in_doubt) == (ActivityStatus.PENDING, True)
    world.w.clock.advance(timedelta(seconds=61))
    world.delivery.run_due()

    assert len(crm.finds) == 4  # three failed searches, then the one that found it
    assert len(crm.writes) == 1  # never written again
    assert crm.copies(note.activity_id) == 1
    assert world.stored(note).status == ActivityStatus.SYNCED


def test_only_what_the_crm_does_not_hold_is_written_again() -> None:
    timed_out = ConnectorError("unreachable", "504 gateway timeout", status=504, outcome_unknown=True)
    crm = FakeCrm(faults=[timed_out])
    world = activity_world(crm)
    first, second = world.record(activity(1), activity(2))
    crm.held[first.activity_id] = "crm-earlier"  # landed before the gateway gave up

    world.stream(first, second)

    assert crm.writes == [[first.activity_id, second.activity_id], [second.activity_id]]
    assert world.stored(first).crm_id == "crm-earlier"
    assert world.stored(second).status == ActivityStatus.SYNCED


def test_an_idempotent_crm_is_simply_written_again_and_a_crm_that_cannot_be_asked_is_too() -> None:
    upserting = activity_world(FakeCrm(idempotent_writes=True, faults=[LOST]))
    (note,) = upserting.record(activity())
    upserting.stream(note)
    assert len(upserting.crm.writes) == 2
    assert upserting.crm.finds == []
    assert upserting.crm.copies(note.activity_id) == 1

    # the documented window: a CRM without a way to find a write again gets it twice after a lost answer
    blind = activity_world(FakeCrm(findable=False, faults=[LOST]))
    (note,) = blind.record(activity())
    blind.stream(note)
    assert len(blind.crm.finds) == 1
    assert blind.crm.copies(note.activity_id) == 2
    assert blind.stored(note).status == ActivityStatus.SYNCED


def test_refused_records_fail_at_once_with_the_reason_while_the_others_are_synced() -> None:
    crm = FakeCrm()
    world = activity_world(crm)
    good, unknown_client, refused = world.record(activity(1), activity(2, client="c-404"), activity(3))
    crm.refuse[refused.activity_id] = ConnectorError("invalid_request", "hs_timestamp is not a valid date")

    world.stream(good, unknown_client, refused)

    assert world.stored(good).status == ActivityStatus.SYNCED
    missing = world.stored(unknown_client)
    assert (missing.status, missing.last_error_code) == (ActivityStatus.FAILED, "not_found")
    assert missing.last_error == "no contact c-404"
    bad = world.stored(refused)
    assert (bad.status, bad.last_error_code, bad.last_error) == (
        ActivityStatus.FAILED,
        "invalid_request",
        "hs_timestamp is not a valid date",
    )
    assert world.repo.due(NOW + timedelta(days=30)) == []  # nothing is retried


def test_refused_credentials_fail_the_activities_and_mark_the_integration_until_they_work_again() -> None:
    crm = FakeCrm(faults=[ConnectorError("auth_failed", "401: token revoked", status=401)])
    world = activity_world(crm)
    notes = world.record(activity(1), activity(2))

    world.stream(*notes)

    for note in notes:
        stored = world.stored(note)
        assert (stored.status, stored.last_error_code) == (ActivityStatus.FAILED, "auth_failed")
    assert len(crm.writes) == 1  # not retried: retrying cannot help
    assert world.w.repository.require(USER, world.integration.integration_id).status == Status.ERROR

    # the user fixed the token and retries them: the stream sees each turn failed -> pending
    failed = [serialize(activity_to_item(world.stored(n), 8)) for n in notes]
    retried = [world.log.retry(USER, n.activity_id) for n in notes]
    records = [stream_record(r, "MODIFY", old=old) for r, old in zip(retried, failed, strict=True)]
    assert world.delivery.handle(parse_trigger({"Records": records})) == {"batchItemFailures": []}

    for note in notes:
        stored = world.stored(note)
        assert (stored.status, stored.attempts) == (ActivityStatus.SYNCED, 1)
    assert crm.finds == [[n.activity_id for n in notes]]  # retried after a failure: asked first
    assert world.w.repository.require(USER, world.integration.integration_id).status == Status.CONNECTED


def test_a_crm_that_stays_down_is_retried_with_doubling_waits_capped_at_an_hour() -> None:
    crm = FakeCrm(faults=[DOWN] * 10_000)
    world = activity_world(crm)
    (note,) = world.record(activity())
    world.stream(note)

    waits = []
    for _ in range(9):
        stored = world.stored(note)
        assert stored.status == ActivityStatus.PENDING
        assert stored.next_attempt_at is not None
        waits.append((stored.next_attempt_at - world.clock.now()).total_seconds())
        assert world.delivery.run_due().activities == 0  # not due yet
        world.clock.set(stored.next_attempt_at)
        assert world.delivery.run_due().retrying == 1

    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    stored = world.stored(note)
    assert (stored.attempts, stored.last_error_code, stored.last_error) == (
        10,
        "unreachable",
        "HubSpot answered 503",
    )
    assert len(crm.writes) == 10 * 4  # each attempt: the call and its 3 in-call retries


def test_after_seven_days_of_transient_failures_the_activity_fails_with_retry_window_exceeded() -> None:
    crm = FakeCrm(faults=[DOWN] * 100_000)
    world = activity_world(crm)
    (note,) = world.record(activity())
    world.stream(note)
    deadline = note.created_at + timedelta(days=7)

    runs = 0
    while world.stored(note).status == ActivityStatus.PENDING:
        next_at = world.stored(note).next_attempt_at
        assert next_at is not None
        assert next_at <= deadline
        world.clock.set(next_at)
        world.delivery.run_due()
        runs += 1

    failed = world.stored(note)
    assert failed.status == ActivityStatus.FAILED
    assert failed.last_error_code == "retry_window_exceeded"
    assert failed.last_error is not None
    assert failed.last_error.endswith("last error unreachable: HubSpot answered 503")
    assert 170 < failed.attempts < 180  # hourly at the end, the last one at the window's end
    assert world.clock.now() >= deadline
    assert runs == failed.attempts - 1


def test_a_claimed_activity_is_not_delivered_by_anyone_else_until_its_lease_ends() -> None:
    world = activity_world()
    (note,) = world.record(activity())
    inner: list[object] = []
    # while the stream's delivery is writing, the periodic run comes by: the lease keeps it off
    world.crm.while_writing = lambda: inner.append(world.delivery.run_due().as_dict())

    world.stream(note)

    assert len(inner) == 1
    assert inner[0]["activities"] == 0  # type: ignore[index]
    assert world.crm.copies(note.activity_id) == 1

    # a delivery that died holding the lease: the activity comes back when the lease ends, asked first
    (orphan,) = world.record(activity(2))
    world.crm.while_writing = None
    claimed = world.repo.claim(orphan, world.clock.now(), world.clock.now() + LEASE)
    assert claimed is not None
    assert world.stream(orphan) == {"batchItemFailures": []}
    assert world.crm.copies(orphan.activity_id) == 0  # the stream's copy is stale: refused
    assert world.delivery.run_due().activities == 0
    world.crm.held[orphan.activity_id] = "crm-from-the-dead-delivery"
    world.clock.advance(LEASE)
    report = world.delivery.run_due()
    assert (report.synced, report.found_written, report.calls) == (1, 1, 1)
    assert world.crm.copies(orphan.activity_id) == 0
    assert world.stored(orphan).crm_id == "crm-from-the-dead-delivery"


def test_a_crm_that_is_down_costs_one_call_per_group_and_the_rest_wait_with_it() -> None:
    crm = FakeCrm(batch_max=10, faults=[DOWN] * 4)
    world = activity_world(crm)
    notes = world.record(*(activity(n) for n in range(35)))

    report = world.delivery.deliver(notes)

    assert len(crm.writes) == 4  # the first batch and its retries; the other three batches wait
    assert (report.retrying, report.calls) == (35, 1)
    assert {world.stored(n).attempts for n in notes} == {1}
    assert {world.stored(n).next_attempt_at for n in notes} == {world.clock.now() + timedelta(seconds=60)}


def test_the_integrations_rate_limit_defers_without_counting_an_attempt() -> None:
    world = activity_world(FakeCrm(batch_max=1))
    notes = world.record(*(activity(n) for n in range(100))) + world.record(*(activity(n) for n in range(5)))

    report = world.delivery.deliver(notes)

    # HubSpot's documented 100 calls per 10 s: the 101st call waits for the window instead
    assert (report.synced, report.deferred) == (100, 5)
    waiting = [world.stored(n) for n in notes[100:]]
    assert {(w.status, w.attempts) for w in waiting} == {(ActivityStatus.PENDING, 0)}
    assert {w.next_attempt_at for w in waiting} == {NOW + timedelta(seconds=10)}
    world.clock.advance(timedelta(seconds=10))
    assert world.delivery.run_due().synced == 5


def test_bad_records_never_block_the_stream() -> None:
    world = activity_world()
    good, for_deleted, for_analytics = world.record(activity(1), activity(2), activity(3))
    gone = replace(for_deleted, integration_id="int-deleted")
    world.repo._replace(activity_to_item(gone, 8), gone.version)
    analytics = world.w.lifecycle.create(
        USER,
        name="Site",
        kind="crm",
        provider="hubspot",
        credentials={"accessToken": "pat-na1-another-0042-token"},
        sync_frequency=None,
        alert_email=None,
    )
    world.w.repository.save(replace(analytics, type="analytics"), True)
    elsewhere = replace(for_analytics, integration_id=analytics.integration_id)
    world.repo._replace(activity_to_item(elsewhere, 8), elsewhere.version)
    unreadable = stream_record(good)
    unreadable["dynamodb"]["NewImage"]["timestamp"] = {"S": "last tuesday"}

    records = [unreadable, stream_record(good), stream_record(gone), stream_record(elsewhere)]
    result = world.delivery.handle(parse_trigger({"Records": records}))

    assert result == {"batchItemFailures": []}
    assert world.stored(good).status == ActivityStatus.SYNCED
    deleted = world.stored(gone)
    assert (deleted.status, deleted.last_error_code) == (ActivityStatus.FAILED, "integration_not_found")
    not_crm = world.stored(elsewhere)
    assert (not_crm.status, not_crm.last_error_code) == (ActivityStatus.FAILED, "integration_not_crm")


def test_the_stream_takes_new_and_retried_activities_only() -> None:
    world = activity_world()
    (note,) = world.record(activity())
    pending = serialize(activity_to_item(note, 8))
    failed = serialize(activity_to_item(replace(note, status=ActivityStatus.FAILED), 8))
    synced = replace(note, status=ActivityStatus.SYNCED)
    wants = world.delivery.stream.wants

    assert wants(stream_record(note, "INSERT"))
    assert wants(stream_record(note, "MODIFY", old=failed))
    assert not wants(stream_record(note, "MODIFY", old=pending))  # a claim or a retry being scheduled
    assert not wants(stream_record(synced, "MODIFY", old=pending))
    other = stream_record(note)
    other["dynamodb"]["NewImage"]["EntityType"] = {"S": "ScheduledPost"}
    assert not wants(other)


def test_a_run_starts_no_batch_after_its_time_budget_and_leaves_the_rest_due() -> None:
    # an attempt against a CRM that is down takes 7 s of in-call waits; the budget is 5 s
    crm = FakeCrm(batch_max=1, faults=[DOWN] * 100)
    world = activity_world(crm, budget=timedelta(seconds=5))
    notes = world.record(*(activity(n) for n in range(3)))
    someone_else = replace(notes[0], user_id="agent-9", activity_id="act_other")

    report = world.delivery.deliver([*notes, someone_else])

    assert (report.activities, report.retrying, report.left) == (4, 1, 3)
    assert len(crm.writes) == 4  # one batch and its retries
    assert [world.stored(n).attempts for n in notes] == [1, 0, 0]
    assert {a.activity_id for a in world.repo.due(world.clock.now())} == {n.activity_id for n in notes[1:]}
