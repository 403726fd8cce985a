"""Crisis detection with in-memory stores: analysed comments open one crisis per user (evidence and
timeline), later evidence updates it, it calms to monitoring and resolves after a quiet day; a high
crisis holds the queue only when the user turned that on; the stream consumer evaluates the users whose
comments were just analysed; `crisis.detected` goes out on opening and on each rise, its e-mail once;
every wrong request gets its 4xx and code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_events import call
from notification_fakes import confirmed_mail

from tidings.api.app import build_app
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.engagement.crisis.evaluation import CrisisEvaluationStep
from tidings.engagement.crisis.mail import CrisisMailer
from tidings.engagement.crisis.service import CrisisService
from tidings.models.comments import Comment, CommentAnalysis, CommentSource
from tidings.models.crises import CrisisSeverity, CrisisSignal, CrisisStatus
from tidings.models.posts import ScheduledPost
from tidings.notifications.service import RecipientUnconfirmed
from tidings.scheduling.service import SchedulingService
from tidings.store.comments import comment_to_item
from tidings.store.crises import crisis_to_item
from tidings.store.dynamo import serialize
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.comments import InMemoryCommentRepository
from tidings.store.memory.crises import InMemoryCrisisRepository, InMemoryQueueHoldRepository
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.webhooks.events import EventType, events_from_record

NOW = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)
USER = "agent-1"


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.comments = InMemoryCommentRepository()
        self.crises = InMemoryCrisisRepository()
        self.posts = InMemoryPostRepository()
        self.holds = InMemoryQueueHoldRepository(self.posts)
        self.service = CrisisService(self.crises, self.holds, self.comments, None, self.clock)
        self.n = 0

    def comment(self, sentiment: str, decision: str = "no_response", user: str = USER) -> Comment:
        self.n += 1
        at = self.clock.now() - timedelta(minutes=1)
        analysis = CommentAnalysis(sentiment=sentiment, decision=decision, analyzed_at=at)
        comment = Comment(
            user_id=user,
            platform=Platform.FACEBOOK,
            platform_comment_id=f"c{self.n}",
            platform_post_id="page_1",
            author_id=f"author-{self.n}",
            text="This agent lied about the house" if sentiment == "negative" else "Lovely",
            created_at=at,
            source=CommentSource.WEBHOOK,
            received_at=at,
            updated_at=at,
            analysis=analysis,
        )
        self.comments.add_new([comment])
        return comment

    def comments_of(self, sentiment: str, n: int, decision: str = "no_response") -> None:
        for _ in range(n):
            self.comment(sentiment, decision)

    def app(self) -> Any:
        scheduling = SchedulingService(
            settings=Settings(table_name="t"),
            posts=self.posts,
            analytics=InMemoryAnalyticsRepository(),
            starter=None,  # type: ignore[arg-type]
            clock=self.clock,
        )
        return build_app(lambda: scheduling, crises=lambda: self.service)


@pytest.fixture
def world() -> World:
    return World()


def test_a_negative_spike_opens_one_crisis_with_evidence_and_a_timeline(world: World) -> None:
    world.comments_of("negative", 12)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    assert crisis.status == CrisisStatus.OPEN
    assert crisis.severity == CrisisSeverity.HIGH  # a rise of 90 points over the default baseline
    assert crisis.signals == [CrisisSignal.NEGATIVE_SPIKE]
    assert crisis.evidence["negative_spike"]["windowNegative"] == 12
    assert [e.event for e in crisis.timeline] == ["opened"]
    assert crisis.queue_held is False  # the hold is off by default
    assert world.holds.get(USER) is None

    world.clock.advance(timedelta(minutes=5))
    world.comments_of("negative", 3)
    again = world.service.evaluate(USER)
    assert again is not None
    assert again.crisis_id == crisis.crisis_id  # evidence updates the open crisis
    assert again.evidence["negative_spike"]["windowNegative"] == 15
    listed, _ = world.crises.page(USER, 10, None)
    assert len(listed) == 1


def test_three_negative_comments_open_nothing(world: World) -> None:
    world.comments_of("negative", 3)
    assert world.service.evaluate(USER) is None
    assert world.crises.page(USER, 10, None)[0] == []


def test_a_crisis_calms_to_monitoring_reopens_and_resolves_after_a_quiet_day(world: World) -> None:
    world.comments_of("negative", 12)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    world.clock.advance(timedelta(hours=7))  # the window has moved past the comments
    calm = world.service.evaluate(USER)
    assert calm is not None
    assert calm.status == CrisisStatus.MONITORING
    world.comments_of("negative", 12)
    reopened = world.service.evaluate(USER)
    assert reopened is not None
    assert reopened.status == CrisisStatus.OPEN
    world.clock.advance(timedelta(hours=7))
    world.service.evaluate(USER)
    world.clock.advance(timedelta(hours=18))
    assert world.service.evaluate(USER) is None
    done = world.crises.get(USER, crisis.crisis_id)
    assert done is not None
    assert done.status == CrisisStatus.RESOLVED
    assert done.resolved_by == "quiet"
    events = [e.event for e in done.timeline]
    assert events == ["opened", "monitoring", "reopened", "monitoring", "resolved"]
    assert world.crises.active(USER) is None


def test_severity_rises_with_escalations_and_the_hold_follows_the_setting(world: World) -> None:
    world.service.put_settings(USER, {"hold_queue": True})
    for i in range(6):
        world.comment("negative", "escalate" if i < 5 else "no_response")
    world.comments_of("negative", 6)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    assert set(crisis.signals) == {CrisisSignal.NEGATIVE_SPIKE, CrisisSignal.ESCALATION}
    assert crisis.severity == CrisisSeverity.CRITICAL
    assert crisis.queue_held is True
    hold = world.holds.get(USER)
    assert hold is not None
    assert hold.active
    assert hold.crisis_id == crisis.crisis_id
    assert "queue_held" in [e.event for e in crisis.timeline]


def test_a_medium_crisis_does_not_hold_the_queue(world: World) -> None:
    world.service.put_settings(USER, {"hold_queue": True})
    world.comments_of("positive", 30)
    world.clock.advance(timedelta(hours=7))
    world.comments_of("negative", 5)  # 5 of 12 against a baseline of none: a rise of 42 points
    world.comments_of("positive", 7)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    assert crisis.severity == CrisisSeverity.MEDIUM
    assert world.holds.get(USER) is None


def held_post(world: World, crisis_id: str) -> ScheduledPost:
    post = ScheduledPost(
        user_id=USER,
        post_id="p1",
        content="Open house",
        platforms=[Platform.FACEBOOK],
        scheduled_time=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    world.posts.put_new(post)
    assert world.holds.hold_post(USER, "p1", 1, crisis_id, NOW)
    return post


def test_resume_queue_releases_the_held_posts_once(world: World) -> None:
    world.service.put_settings(USER, {"hold_queue": True})
    world.comments_of("negative", 12)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    held_post(world, crisis.crisis_id)
    app = world.app()

    status, body = call(app, "POST", f"/crises/{crisis.crisis_id}/resume-queue", user=USER)
    assert status == 200
    assert body["releasedPosts"] == ["p1"]
    assert body["crisis"]["queueHeld"] is False
    assert body["crisis"]["timeline"][-1]["event"] == "queue_resumed"
    released = world.posts.get(USER, "p1")
    assert released is not None
    assert released.held_by_crisis is None
    assert released.version == 2

    status, body = call(app, "POST", f"/crises/{crisis.crisis_id}/resume-queue", user=USER)
    assert (status, body["code"]) == (409, "queue_not_held")


def test_the_routes_answer_wrong_requests_with_codes(world: World) -> None:
    world.comments_of("negative", 12)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    app = world.app()
    path = f"/crises/{crisis.crisis_id}"

    status, body = call(app, "GET", "/crises", user=USER)
    assert status == 200
    assert [c["crisisId"] for c in body["crises"]] == [crisis.crisis_id]
    assert call(app, "GET", path, user="someone-else")[1]["code"] == "crisis_not_found"
    assert call(app, "GET", "/crises/crs_nope", user=USER)[0] == 404
    assert call(app, "GET", "/crises/not-a-crisis", user=USER)[0] == 404
    assert call(app, "GET", "/crises", {"limit": "0"}, user=USER)[0] == 422
    assert call(app, "GET", "/crises", {"nextToken": "forged"}, user=USER)[1]["code"] == "invalid_next_token"
    status, body = call(app, "POST", f"{path}/resume-queue", user=USER)
    assert (status, body["code"]) == (409, "queue_not_held")

    status, body = call(app, "POST", f"{path}/resolve", user=USER)
    assert status == 200
    assert body["status"] == "resolved"
    assert body["resolvedBy"] == "user"
    status, body = call(app, "POST", f"{path}/resolve", user=USER)
    assert (status, body["code"]) == (409, "crisis_not_active")


@pytest.mark.parametrize(
    "body",
    [
        {"holdQueue": "yes"},
        {"holdQueue": None},
        {"alertEmail": "not an address"},
        {"somethingElse": True},
    ],
)
def test_settings_refuse_wrong_values(world: World, body: dict[str, Any]) -> None:
    status, answer = call(world.app(), "PUT", "/crises/settings", body=json.dumps(body), user=USER)
    assert status == 422
    assert answer["code"]


def test_settings_change_only_what_is_sent(world: World) -> None:
    app = world.app()
    assert call(app, "GET", "/crises/settings", user=USER)[1] == {"holdQueue": False, "alertEmail": None}
    call(app, "PUT", "/crises/settings", body=json.dumps({"alertEmail": "ops@example.com"}), user=USER)
    status, body = call(app, "PUT", "/crises/settings", body=json.dumps({"holdQueue": True}), user=USER)
    assert status == 200
    assert body == {"holdQueue": True, "alertEmail": "ops@example.com"}


def analysed_record(comment: Comment) -> dict[str, Any]:
    old = comment_to_item(comment.model_copy(update={"analysis": None}))
    return {
        "eventName": "MODIFY",
        "dynamodb": {"OldImage": serialize(old), "NewImage": serialize(comment_to_item(comment))},
    }


def test_the_stream_consumer_evaluates_each_user_whose_comments_were_analysed(world: World) -> None:
    world.comments_of("negative", 11)
    last = world.comment("negative")
    step = CrisisEvaluationStep(world.service)
    record = analysed_record(last)
    assert step.wants(record)
    assert not step.wants({**record, "eventName": "INSERT"})
    unchanged = {**record, "dynamodb": {**record["dynamodb"], "OldImage": record["dynamodb"]["NewImage"]}}
    assert not step.wants(unchanged)  # a later change of an analysed comment
    deferred: list[Any] = []
    step.apply(record, deferred)
    step.apply(record, deferred)
    step.flush(deferred)
    assert world.crises.active(USER) is not None


def crisis_record(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    images = {"NewImage": serialize(new)}
    if old is not None:
        images["OldImage"] = serialize(old)
    return {"eventName": "MODIFY" if old else "INSERT", "dynamodb": images}


def test_crisis_detected_on_opening_and_on_each_rise_once(world: World) -> None:
    world.comments_of("negative", 12)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    opened = crisis_to_item(crisis)
    events = events_from_record(crisis_record(None, opened))
    assert [e.type for e in events] == [EventType.CRISIS_DETECTED]
    assert events[0].data["severity"] == "high"
    assert events[0].data["crisisPath"] == f"/crises/{crisis.crisis_id}"
    same = crisis_to_item(crisis.model_copy(update={"version": 2}))
    assert events_from_record(crisis_record(opened, same)) == []
    critical = crisis_to_item(crisis.model_copy(update={"severity": CrisisSeverity.CRITICAL}))
    rise = events_from_record(crisis_record(opened, critical))
    assert [e.data["severity"] for e in rise] == ["critical"]
    assert rise[0].event_id != events[0].event_id


class Mail:
    def __init__(self) -> None:
        self.sent: list[tuple[list[str], str, str]] = []

    def send_text(self, sender: str, to: Any, subject: str, body: str) -> str:
        self.sent.append((list(to), subject, body))
        return "m1"


def opened_with_email(world: World, email: str) -> dict[str, Any]:
    """The stream record of a crisis opened for a user whose settings name `email`."""
    world.service.put_settings(USER, {"alert_email": email})
    world.comments_of("negative", 12)
    crisis = world.service.evaluate(USER)
    assert crisis is not None
    return crisis_record(None, crisis_to_item(crisis))


def test_the_alert_email_goes_once_to_the_address_in_the_settings(world: World) -> None:
    record = opened_with_email(world, "ops@example.com")
    crisis_id = record["dynamodb"]["NewImage"]["crisis_id"]["S"]
    mail = Mail()
    mailer = CrisisMailer(
        world.crises, confirmed_mail(mail, world.clock, USER, "ops@example.com"), world.clock
    )
    assert mailer.handle(record, events_from_record(record)) is True
    assert mailer.handle(record, events_from_record(record)) is False  # the record read again
    [(to, subject, body)] = mail.sent
    assert to == ["ops@example.com"]
    assert "HIGH" in subject
    assert f"/crises/{crisis_id}/resolve" in body


def test_no_alert_email_goes_to_an_address_the_user_has_not_confirmed(world: World) -> None:
    record = opened_with_email(world, "stranger@example.com")
    mail = Mail()
    mailer = CrisisMailer(
        world.crises, confirmed_mail(mail, world.clock, USER, "ops@example.com"), world.clock
    )
    assert mailer.handle(record, events_from_record(record)) is False
    assert mail.sent == []


def test_settings_refuse_an_alert_address_the_user_has_not_confirmed(world: World) -> None:
    notifications = confirmed_mail(Mail(), world.clock, USER, "ops@example.com")
    world.service.require_confirmed = notifications.require_confirmed
    app = world.app()

    status, body = call(
        app, "PUT", "/crises/settings", body=json.dumps({"alertEmail": "x@example.com"}), user=USER
    )
    assert (status, body["code"]) == (422, "recipient_unconfirmed")
    assert body["details"]["addresses"] == ["x@example.com"]
    assert world.service.settings(USER).alert_email is None
    with pytest.raises(RecipientUnconfirmed):
        world.service.put_settings(USER, {"alert_email": "x@example.com", "hold_queue": True})
    assert world.service.settings(USER).hold_queue is False  # nothing of a refused change is kept
    status, body = call(
        app, "PUT", "/crises/settings", body=json.dumps({"alertEmail": "OPS@example.com"}), user=USER
    )
    assert (status, body["alertEmail"]) == (200, "OPS@example.com")
    status, body = call(app, "PUT", "/crises/settings", body=json.dumps({"alertEmail": None}), user=USER)
    assert (status, body["alertEmail"]) == (200, None)
