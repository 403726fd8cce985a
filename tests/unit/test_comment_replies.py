"""Replies to comments: drafted in the user's tone and brand voice when a comment needs a response,
held to the gate of posts (refusals are 422 with the gate's reasons), posted once through the
platform's reply endpoint after the user approves (or by auto-reply where the user turned it on, never
for a negative comment or one to escalate), retried when the platform fails in a way that may pass,
read back when an answer was lost; and the routes' answers."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from infra import topology
from tidings.api.app import build_app
from tidings.core.clock import FakeClock
from tidings.core.errors import Conflict, UpstreamFailed, ValidationFailed
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.core.streams import dispatch_batch
from tidings.core.triggers import PeriodicRun
from tidings.engagement.comments import CommentService
from tidings.engagement.intake import CommentIntake
from tidings.engagement.replies import (
    MAX_ATTEMPTS,
    MAX_CHECKS,
    REPLY_RETRIES,
    ContentReplyDrafter,
    ReplyBackoff,
    ReplyPass,
    ReplyPassReport,
    ReplyService,
    ReplyStep,
)
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import (
    AUTO_APPROVER,
    Comment,
    CommentAnalysis,
    CommentSettings,
    CommentStatus,
    ReplyState,
)
from tidings.publishing.clients.comments import ReplyTarget
from tidings.store.comments import comment_to_item
from tidings.store.dynamo import serialize
from tidings.store.memory.accounts import InMemoryAccountRepository, InMemorySecretVault
from tidings.store.memory.comment_settings import InMemoryCommentSettingsRepository
from tidings.store.memory.comments import InMemoryCommentRepository
from tidings.workflows.content.reply import ReplyRequest, ReplyVoice, draft_reply, template_reply
from tidings.workflows.content.request import BrandVoice

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
LEASE = timedelta(minutes=6)
PAGE = "104857600012345"


class Killed(BaseException):
    """The process died mid-call (a Lambda timeout, a crash): nothing after it runs."""


class Replier:
    """A platform's reply endpoint: replies it holds, and failures to answer with first (an exception;
    "lost": the reply is applied and the answer lost; "killed" / "killed_after": the process dies
    before the reply reaches the platform / after it was applied)."""

    def __init__(self, platform: Platform = Platform.FACEBOOK) -> None:
        self.platform = platform
        self.posted: list[tuple[str, str]] = []  # (comment id, text) applied
        self.failures: list[PlatformCallError | str] = []
        self.reads = 0
        self.read_failures: list[PlatformCallError] = []

    def post_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str:
        failure = self.failures.pop(0) if self.failures else None
        if isinstance(failure, PlatformCallError):
            raise failure
        if failure == "killed":
            raise Killed
        self.posted.append((target.platform_comment_id, text))
        if failure == "killed_after":
            raise Killed
        if failure == "lost":
            raise PlatformCallError(ErrorKind.UNKNOWN_OUTCOME, "connection_lost", "closed without an answer")
        return f"reply-{len(self.posted)}"

    def find_reply(self, account: AccountCredentials, target: ReplyTarget, text: str) -> str | None:
        self.reads += 1
        if self.read_failures:
            raise self.read_failures.pop(0)
        for n, (cid, posted) in enumerate(self.posted, start=1):
            if cid == target.platform_comment_id and posted == text:
                return f"reply-{n}"
        return None


def analysis(
    sentiment: str = "neutral", decision: str = "needs_response", reasons: tuple[str, ...] = ("question",)
) -> CommentAnalysis:
    return CommentAnalysis(
        sentiment=sentiment, decision=decision, reasons=list(reasons), keywords=["viewing"], analyzed_at=NOW
    )


def comment(
    cid: str = "111_901",
    platform: Platform = Platform.FACEBOOK,
    status: CommentStatus = CommentStatus.NEEDS_RESPONSE,
    found: CommentAnalysis | None = None,
) -> Comment:
    return Comment(
        user_id="ann",
        platform=platform,
        platform_comment_id=cid,
        platform_post_id=f"{PAGE}_111",
        author_name="Maria Lopez",
        text="Is the house still available? Can I book a viewing?",
        created_at=NOW,
        source="webhook",
        received_at=NOW,
        updated_at=NOW,
        status=status,
        analysis=found or analysis(),
    )


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.comments = InMemoryCommentRepository()
        self.settings = InMemoryCommentSettingsRepository()
        self.accounts = InMemoryAccountRepository(InMemorySecretVault())
        self.accounts.connect("ann", "facebook", PAGE, "page-token")
        self.accounts.connect("ann", "twitter", "4242", "x-token")
        self.replier = Replier()
        self.x = Replier(Platform.TWITTER)
        self.jitter = 0.5  # the back-off's random part, fixed
        self.service = ReplyService(
            self.comments,
            self.settings,
            {Platform.FACEBOOK: self.replier, Platform.TWITTER: self.x},
            lambda: self.accounts,
            ContentReplyDrafter(),
            lease=LEASE,
            backoff=ReplyBackoff(base_seconds=60),
            jitter=lambda: self.jitter,
            clock=self.clock,
        )

    def run_pass(self, limit: int = 50, per_user: int = 5) -> ReplyPassReport:
        """One periodic reply pass (the reply-retries schedule)."""
        return ReplyPass(self.service, limit=limit, per_user=per_user).run_due()

    def add(self, c: Comment) -> Comment:
        self.comments.add_new([c])
        return c

    def stored(self, cid: str = "facebook.111_901") -> Comment:
        found = self.comments.get("ann", cid)
        assert found is not None
        return found

    def stream(self, cid: str = "facebook.111_901", rounds: int = 10) -> None:
        """Deliver the comment's changes to the reply step as the stream would, until it settles."""
        step = ReplyStep(self.service)
        for seq in range(rounds):
            item = json.loads(json.dumps(comment_to_item(self.stored(cid))))
            record = {
                "eventName": "MODIFY",
                "dynamodb": {"NewImage": serialize(item), "SequenceNumber": str(seq)},
            }
            if not step.wants(record):
                return
            assert dispatch_batch({"Records": [record]}, [step]) == {"batchItemFailures": []}


@pytest.fixture
def world() -> World:
    return World()


def retryable() -> PlatformCallError:
    return PlatformCallError(ErrorKind.RETRYABLE, "server_error", "Facebook answered 500", status=500)


# -- drafting in the user's voice ------------------------------------------------------------------


def test_a_comment_needing_a_response_gets_a_draft_in_the_users_tone_and_brand(world: World) -> None:
    world.settings.put(
        CommentSettings(
            user_id="ann", tone="professional", brand_name="Elm Realty", signature="- Dana, Elm Realty"
        )
    )
    world.add(comment())

    world.stream()

    reply = world.stored().reply
    assert reply is not None
    assert (reply.state, reply.drafted_by) == (ReplyState.DRAFT, "template")
    assert reply.draft == reply.text
    assert reply.text.startswith("Hi Maria,")
    assert "!" not in reply.text  # the professional tone has no exclamation marks
    assert "viewing" in reply.text  # a buying signal is answered as one
    assert reply.text.endswith("- Dana, Elm Realty")
    assert world.replier.posted == []  # auto-reply is off by default: nothing posted


def test_the_tone_changes_the_draft() -> None:
    request = ReplyRequest("Do you have parking?", Platform.FACEBOOK, ("question",), ("parking",), "Sam")

    friendly = template_reply(request, ReplyVoice(tone="friendly"))
    professional = template_reply(request, ReplyVoice(tone="professional"))

    assert friendly.startswith("Hi Sam!")
    assert "😊" in friendly
    assert professional.startswith("Hi Sam,")
    assert "!" not in professional
    assert "about parking" in friendly


def test_a_complaint_and_an_escalation_are_answered_as_such() -> None:
    complaint = ReplyRequest("Terrible service", Platform.FACEBOOK, ("complaint",))
    legal = ReplyRequest("My lawyer will call", Platform.FACEBOOK, ("legal", "complaint"))

    assert "sorry" in template_reply(complaint, ReplyVoice()).lower()
    escalated = template_reply(
        legal, ReplyVoice(tone="enthusiastic", brand=BrandVoice(phrases=("Let's go!",)))
    )
    assert "contact us directly" in escalated
    assert "Let's go" not in escalated
    assert "🙌" not in escalated


def test_an_x_draft_fits_in_a_post() -> None:
    long_brand = BrandVoice(phrases=("x" * 200,), signature="- " + "y" * 100)
    request = ReplyRequest("Price?", Platform.TWITTER, ("buying_signal",), author_name="Lee")

    assert len(template_reply(request, ReplyVoice(brand=long_brand))) <= 280


class Model:
    def __init__(self, text: str) -> None:
        self.text = text
        self.prompts: list[str] = []

    def converse(self, **kwargs: Any) -> dict[str, Any]:
        self.prompts.append(kwargs["messages"][0]["content"][0]["text"])
        return {"output": {"message": {"content": [{"text": self.text}]}}, "stopReason": "end_turn"}


def test_the_configured_model_drafts_and_a_draft_the_gate_refuses_falls_back_to_the_template() -> None:
    request = ReplyRequest("Is it near schools?", Platform.FACEBOOK, ("question",), author_name="Kim")
    voice = ReplyVoice(brand=BrandVoice(name="Elm Realty", avoid=("cheap",)))
    good, bad = (
        Model("Hi Kim, yes: three schools are close by. Message us!"),
        Model("It's cheap, no kids allowed"),
    )

    drafted = draft_reply(request, voice, model=good, model_id="anthropic.claude")
    fallback = draft_reply(request, voice, model=bad, model_id="anthropic.claude")

    assert (drafted.source, drafted.text) == (
        "bedrock",
        "Hi Kim, yes: three schools are close by. Message us!",
    )
    assert "Elm Realty" in good.prompts[0]
    assert '"cheap"' in good.prompts[0]
    assert fallback.source == "template"
    assert "cheap" not in fallback.text


# -- auto-reply ------------------------------------------------------------------------------------


def test_auto_reply_posts_the_draft_once_where_it_is_on(world: World) -> None:
    world.settings.put(CommentSettings(user_id="ann", auto_reply={"facebook": True}))
    world.add(comment(found=analysis("positive")))

    world.stream()
    world.stream()  # the same changes again post nothing more

    stored = world.stored()
    assert stored.status is CommentStatus.HANDLED
    assert stored.reply is not None
    assert (stored.reply.state, stored.reply.approved_by) == (ReplyState.POSTED, AUTO_APPROVER)
    assert stored.reply.platform_reply_id == "reply-1"
    assert world.replier.posted == [("111_901", stored.reply.text)]


@pytest.mark.parametrize(
    ("settings", "found"),
    [
        ({"facebook": True}, analysis("negative", reasons=("complaint",))),  # negative: never auto
        ({"facebook": True}, analysis("neutral", "escalate", ("legal",))),  # a person must see it
        ({}, analysis("positive")),  # off unless turned on
        ({"facebook": False, "twitter": True}, analysis("positive")),  # on elsewhere only
    ],
    ids=["negative", "escalate", "default_off", "other_platform"],
)
def test_auto_reply_leaves_a_draft_for_the_user(
    world: World, settings: dict[str, bool], found: CommentAnalysis
) -> None:
    world.settings.put(CommentSettings(user_id="ann", auto_reply=settings))
    world.add(comment(found=found))

    world.stream()

    stored = world.stored()
    assert stored.reply is not None
    assert stored.reply.state is ReplyState.DRAFT
    assert stored.status is CommentStatus.NEEDS_RESPONSE
    assert world.replier.posted == []


# -- approving, writing, the gate ------------------------------------------------------------------


def test_approving_twice_posts_once_and_answers_the_posted_reply_again(world: World) -> None:
    world.add(comment())
    world.stream()

    first = world.service.approve("ann", "facebook.111_901")
    again = world.service.approve("ann", "facebook.111_901")

    assert first.posted
    assert again.posted
    assert first.comment.reply == again.comment.reply
    assert first.comment.reply is not None
    assert first.comment.reply.approved_by == "ann"
    assert first.comment.status is CommentStatus.HANDLED
    assert len(world.replier.posted) == 1
    with pytest.raises(Conflict) as refused:
        world.service.approve("ann", "facebook.111_901", text="Something else")
    assert refused.value.code == "reply_already_posted"


def test_an_edited_approval_posts_the_edit_and_keeps_the_draft(world: World) -> None:
    world.add(comment())
    world.stream()
    draft = world.stored().reply
    assert draft is not None

    done = world.service.approve("ann", "facebook.111_901", text="Yes, Saturday at 2pm works. See you there")

    reply = done.comment.reply
    assert reply is not None
    assert (reply.text, reply.draft, reply.drafted_by) == (
        "Yes, Saturday at 2pm works. See you there",
        draft.text,
        None,
    )
    assert world.replier.posted == [("111_901", "Yes, Saturday at 2pm works. See you there")]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Great family home, but no kids please", 'contains banned phrase "no kids"'),
        ("Our prices are cheap", 'contains banned phrase "cheap"'),
        ("Shut up, you idiot, this is stupid crap", "toxicity is"),
    ],
)
def test_the_gate_refuses_a_reply_with_its_reason_and_nothing_is_posted(
    world: World, text: str, reason: str
) -> None:
    world.settings.put(CommentSettings(user_id="ann", brand_avoid=["cheap"]))
    world.add(comment())

    with pytest.raises(ValidationFailed) as refused:
        world.service.write("ann", "facebook.111_901", text)

    assert refused.value.status == 422
    assert refused.value.code == "reply_rejected"
    assert any(r.startswith(reason) for r in refused.value.details["reasons"])
    assert world.replier.posted == []
    assert world.stored().reply is None


def test_an_x_reply_over_280_weighted_characters_is_refused(world: World) -> None:
    world.add(comment("1950000000000000001", Platform.TWITTER))

    with pytest.raises(ValidationFailed) as refused:
        world.service.write("ann", "twitter.1950000000000000001", "界" * 141)  # wide: 282

    assert refused.value.details["reasons"] == ["text is 282 characters; at most 280 allowed"]


def test_a_platform_without_replies_is_a_422(world: World) -> None:
    world.add(comment("urn:li:comment:1", Platform.LINKEDIN))

    with pytest.raises(ValidationFailed) as refused:
        world.service.write("ann", "linkedin.urn:li:comment:1", "Thanks!")

    assert refused.value.code == "reply_not_supported"


def test_nothing_to_approve_without_a_draft_or_text(world: World) -> None:
    world.add(comment(status=CommentStatus.NEW, found=analysis(decision="no_response")))

    with pytest.raises(Conflict) as refused:
        world.service.approve("ann", "facebook.111_901")

    assert refused.value.code == "no_reply_draft"


def test_a_hidden_comment_cannot_be_answered(world: World) -> None:
    world.add(comment(status=CommentStatus.HIDDEN))

    with pytest.raises(Conflict) as refused:
        world.service.write("ann", "facebook.111_901", "Thanks")

    assert refused.value.code == "comment_status_conflict"


# -- failures --------------------------------------------------------------------------------------


def test_a_failure_that_may_pass_is_retried_after_its_back_off_and_posted_once(world: World) -> None:
    world.add(comment())
    world.replier.failures = [retryable()]

    outcome = world.service.write("ann", "facebook.111_901", "Yes, it is! Message us to book.")

    assert not outcome.posted
    pending = outcome.comment.reply
    assert pending is not None
    assert (pending.state, pending.attempts, pending.last_error_code) == (
        ReplyState.APPROVED,
        1,
        "server_error",
    )
    # 60 s base, half fixed and half random (0.5 here): 45 s
    assert pending.next_attempt_at == NOW + timedelta(seconds=45)
    world.stream()  # the stream does not try again at once
    assert world.replier.posted == []
    world.clock.advance(timedelta(seconds=44))
    assert world.run_pass().taken == 0  # nor the pass, before the back-off is over
    assert world.replier.posted == []

    world.clock.advance(timedelta(seconds=1))
    report = world.run_pass()

    assert (report.taken, report.posted) == (1, 1)
    reply = world.stored().reply
    assert reply is not None
    assert reply.state is ReplyState.POSTED
    assert reply.next_attempt_at is None  # out of the reply index
    assert world.replier.posted == [("111_901", "Yes, it is! Message us to book.")]
    world.clock.advance(timedelta(hours=1))
    assert world.run_pass().due == 0


def test_a_reply_failing_every_attempt_backs_off_more_each_time_and_ends_failed(world: World) -> None:
    world.add(comment())
    world.replier.failures = [retryable() for _ in range(MAX_ATTEMPTS)]

    world.service.write("ann", "facebook.111_901", "Yes, it is!")
    waits = []
    for _ in range(MAX_ATTEMPTS - 1):
        reply = world.stored().reply
        assert reply is not None
        assert reply.next_attempt_at is not None
        waits.append(reply.next_attempt_at - world.clock.now())
        world.clock.set(reply.next_attempt_at)
        world.run_pass()

    assert waits == [timedelta(seconds=45), timedelta(seconds=90)]  # doubling
    reply = world.stored().reply
    assert reply is not None
    assert reply.state is ReplyState.FAILED
    assert reply.attempts == MAX_ATTEMPTS
    assert reply.last_error == f"gave up after {MAX_ATTEMPTS} attempts: Facebook answered 500"
    assert reply.next_attempt_at is None
    assert world.stored().status is CommentStatus.NEEDS_RESPONSE  # the user may approve it again
    world.clock.advance(timedelta(hours=1))
    assert world.run_pass().due == 0
    assert len(world.replier.failures) == 0


def test_the_back_off_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = ReplyBackoff(base_seconds=60, max_seconds=900)

    assert [backoff.wait(n, 0.0).total_seconds() for n in (1, 2, 3, 6)] == [30, 60, 120, 450]
    assert [backoff.wait(n, 1.0).total_seconds() for n in (1, 2, 3, 6)] == [60, 120, 240, 900]
    assert backoff.wait(40, 0.5) == timedelta(seconds=675)


def test_a_lost_answer_is_read_back_and_never_posted_twice(world: World) -> None:
    world.add(comment())
    world.replier.failures = ["lost"]

    first = world.service.write("ann", "facebook.111_901", "Yes, it is!")
    assert first.comment.reply is not None
    assert first.comment.reply.state is ReplyState.UNKNOWN
    again = world.service.approve("ann", "facebook.111_901")

    assert again.posted
    assert again.comment.reply is not None
    assert again.comment.reply.platform_reply_id == "reply-1"
    assert world.replier.posted == [("111_901", "Yes, it is!")]
    assert world.replier.reads == 1


def test_a_reply_being_sent_is_left_alone_until_its_call_is_over(world: World) -> None:
    world.add(comment())
    world.stream()
    held = world.stored()
    assert held.reply is not None
    sending = held.reply.model_copy(
        update={"state": ReplyState.SENDING, "attempts": 1, "attempt_started_at": NOW}
    )
    world.comments.save(held.model_copy(update={"reply": sending}))

    with pytest.raises(Conflict) as busy:
        world.service.approve("ann", "facebook.111_901")
    assert busy.value.code == "reply_in_progress"
    assert world.replier.reads == 0

    world.clock.advance(timedelta(minutes=5))  # the attempt died mid-call: read back, then send
    done = world.service.approve("ann", "facebook.111_901")
    assert done.posted
    assert world.replier.reads == 1
    assert len(world.replier.posted) == 1


def stuck_sending(world: World, how: str, cid: str = "111_901") -> str:
    """A reply whose process died mid-call (`how`: "killed" before the platform had it, "killed_after"
    once it did): left `sending`, as the ledger wrote it before the call."""
    world.add(comment(cid))
    world.replier.failures.append(how)
    with pytest.raises(Killed):
        world.service.write("ann", f"facebook.{cid}", f"Yes, it is! ({cid})")
    reply = world.stored(f"facebook.{cid}").reply
    assert reply is not None
    assert (reply.state, reply.attempts) == (ReplyState.SENDING, 1)
    return f"facebook.{cid}"


@pytest.mark.parametrize("how", ["killed", "killed_after"])
def test_a_reply_stuck_sending_is_finished_once_by_the_pass_after_its_lease(world: World, how: str) -> None:
    stuck_sending(world, how)
    world.stream()  # a change that is not a new approval: the stream leaves it alone

    world.clock.advance(LEASE - timedelta(seconds=1))
    assert world.run_pass().taken == 0  # its call may still be under way
    assert world.replier.reads == 0

    world.clock.advance(timedelta(seconds=1))
    report = world.run_pass()

    assert (report.due, report.taken, report.posted) == (1, 1, 1)
    assert world.replier.reads == 1  # read back first
    assert world.replier.posted == [("111_901", "Yes, it is! (111_901)")]  # posted once either way
    done = world.stored()
    assert done.status is CommentStatus.HANDLED
    assert done.reply is not None
    assert (done.reply.state, done.reply.platform_reply_id) == (ReplyState.POSTED, "reply-1")
    world.clock.advance(timedelta(hours=1))
    assert world.run_pass().due == 0
    assert len(world.replier.posted) == 1


def test_a_reply_stuck_after_its_last_attempt_and_not_on_the_platform_ends_failed(world: World) -> None:
    world.add(comment())
    world.replier.failures = [retryable(), retryable(), "killed"]
    world.service.write("ann", "facebook.111_901", "Yes, it is!")
    for _ in range(MAX_ATTEMPTS - 1):
        reply = world.stored().reply
        assert reply is not None
        assert reply.next_attempt_at is not None
        world.clock.set(reply.next_attempt_at)
        with contextlib.suppress(Killed):
            world.run_pass()
    stuck = world.stored().reply
    assert stuck is not None
    assert (stuck.state, stuck.attempts) == (ReplyState.SENDING, MAX_ATTEMPTS)

    world.clock.advance(LEASE)
    report = world.run_pass()

    assert report.failed == 1
    reply = world.stored().reply
    assert reply is not None
    assert reply.state is ReplyState.FAILED
    assert reply.last_error == f"gave up after {MAX_ATTEMPTS} attempts: not found on read-back"
    assert world.replier.posted == []


def test_a_read_back_that_keeps_failing_backs_off_then_fails_in_doubt(world: World) -> None:
    stuck_sending(world, "killed_after")
    world.replier.read_failures = [retryable() for _ in range(MAX_CHECKS)]
    world.clock.advance(LEASE)

    waits = []
    for _ in range(MAX_CHECKS):
        assert world.run_pass().taken == 1
        reply = world.stored().reply
        assert reply is not None
        if reply.next_attempt_at is not None:
            waits.append(reply.next_attempt_at - world.clock.now())
            world.clock.set(reply.next_attempt_at)

    assert waits == [timedelta(seconds=s) for s in (45, 90, 180, 360)]
    failed = world.stored().reply
    assert failed is not None
    assert (failed.state, failed.last_error_code) == (ReplyState.FAILED, "outcome_unknown")
    assert failed.last_error == (
        f"whether the reply was posted could not be read back after {MAX_CHECKS} tries: Facebook answered 500"
    )
    assert world.replier.posted == [("111_901", "Yes, it is! (111_901)")]  # never sent again

    again = world.service.approve("ann", "facebook.111_901")  # read back first: it was there
    assert again.posted
    assert len(world.replier.posted) == 1


def test_one_pass_takes_at_most_its_limits(world: World) -> None:
    for n in range(4):
        stuck_sending(world, "killed", f"111_90{n}")
    world.clock.advance(LEASE)

    first = world.run_pass(limit=3, per_user=2)
    second = world.run_pass(limit=3, per_user=2)

    assert (first.due, first.taken, first.posted, first.left) == (3, 2, 2, 1)
    assert (second.due, second.taken, second.posted, second.left) == (2, 2, 2, 0)
    assert world.run_pass().due == 0
    assert len(world.replier.posted) == 4


def test_the_reply_retries_schedule_runs_the_reply_pass_alone(world: World) -> None:
    stuck_sending(world, "killed")
    world.clock.advance(LEASE)

    class NoFetch:
        def run_periodic(self) -> NoReturn:
            raise AssertionError("the comment-fetch run is another schedule's")

    intake = CommentIntake(
        NoFetch(),  # type: ignore[arg-type]
        [],
        schedules={REPLY_RETRIES: ReplyPass(world.service).run},
    )
    report = intake.handle(PeriodicRun(source="aws.scheduler", schedule=REPLY_RETRIES))

    assert (report["repliesTaken"], report["repliesPosted"]) == (1, 1)
    assert REPLY_RETRIES == topology.REPLY_RETRIES
    assert any(
        s.name == REPLY_RETRIES and s.function == topology.COMMENT_INTAKE for s in topology.PERIODIC_SCHEDULES
    )


def test_a_refusal_for_good_is_a_502_and_the_reply_can_be_approved_again(world: World) -> None:
    world.add(comment())
    world.replier.failures = [
        PlatformCallError(ErrorKind.PERMANENT, "100", "(#100) cannot reply", status=400)
    ]

    with pytest.raises(UpstreamFailed) as refused:
        world.service.write("ann", "facebook.111_901", "Yes!")
    assert refused.value.code == "platform_refused"
    failed = world.stored().reply
    assert failed is not None
    assert failed.state is ReplyState.FAILED

    assert world.service.approve("ann", "facebook.111_901").posted
    assert world.replier.posted == [("111_901", "Yes!")]


# -- the routes ------------------------------------------------------------------------------------


def _no_posts() -> NoReturn:
    raise AssertionError("no post service here")


def app_of(world: World) -> APIGatewayHttpResolver:
    service = CommentService(
        world.comments,
        _no_posts,
        {},
        lambda: world.accounts,
        clock=world.clock,
        replies=lambda: world.service,
    )
    return build_app(_no_posts, comments=lambda: service)


def reply_route(
    app: APIGatewayHttpResolver, comment_id: str, body: dict[str, str] | None, action: str = ""
) -> tuple[int, Any]:
    path = f"/comments/{comment_id}/reply{action}"
    sent = json.dumps(body) if body is not None else None
    return call(app, "POST", path, body=sent, path_parameters={"commentId": comment_id}, user="ann")


def test_the_routes_answer_posted_pending_and_refused_replies(world: World) -> None:
    app = app_of(world)
    world.add(comment())
    world.add(comment("111_902"))
    world.stream()
    world.replier.failures = [retryable()]

    pending = reply_route(app, "facebook.111_902", {"text": "Yes!"})
    refused = reply_route(app, "facebook.111_902", {"text": "no kids"})
    approved = reply_route(app, "facebook.111_901", None, "/approve")
    missing = reply_route(app, "facebook.9", None, "/approve")
    blank = reply_route(app, "facebook.111_902", {"text": ""})

    assert pending[0] == 202
    assert pending[1]["reply"]["state"] == "approved"
    assert refused[0] == 422
    assert refused[1]["code"] == "reply_rejected"
    assert refused[1]["details"]["reasons"] == ['contains banned phrase "no kids"']
    assert approved[0] == 200
    assert approved[1]["status"] == "handled"
    assert approved[1]["reply"]["approvedBy"] == "ann"
    assert missing[0] == 404
    assert missing[1]["code"] == "comment_not_found"
    assert blank[0] == 422


def test_settings_are_read_with_defaults_and_replaced(world: World) -> None:
    app = app_of(world)

    default = call(app, "GET", "/comments/settings", user="ann")
    saved = call(
        app,
        "PUT",
        "/comments/settings",
        body=json.dumps({"autoReply": {"facebook": True}, "allowHide": True, "tone": "professional"}),
        user="ann",
    )
    unknown = call(
        app, "PUT", "/comments/settings", body=json.dumps({"autoReply": {"linkedin": True}}), user="ann"
    )
    bad_tone = call(app, "PUT", "/comments/settings", body=json.dumps({"tone": "sarcastic"}), user="ann")

    assert default[0] == 200
    assert default[1]["autoReply"] == {}
    assert default[1]["allowHide"] is False
    assert saved[0] == 200
    assert saved[1]["autoReply"] == {"facebook": True}
    assert world.settings.get("ann").auto_reply_on("facebook")
    assert world.settings.get("ann").allow_hide
    assert unknown[0] == 422
    assert unknown[1]["code"] == "reply_not_supported"
    assert bad_tone[0] == 422
    assert bad_tone[1]["code"] == "invalid_tone"
