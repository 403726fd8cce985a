"""A/B tests through the API app with in-memory repositories and the real scheduling service: a test
schedules its variants as posts in comparable slots, every wrong request is a 4xx with its code, a
stop cancels what has not gone out, the running limit holds, and the monitor decides (a winner becomes
an insight that insight generation keeps), fails a test whose variant was not published, and ends
one without a clear best as inconclusive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_events import call
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from tidings.analytics.insights.service import InsightService
from tidings.api.app import build_app
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.engagement.abtests.service import ABTestService, MonitorIncomplete
from tidings.models.post_analytics import CollectionStatus, MetricSnapshot, PostAnalytics, PostMetrics
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.scheduling.service import SchedulingService
from tidings.store.insights import InsightType
from tidings.store.memory.abtests import InMemoryABTestRepository
from tidings.store.memory.analytics import InMemoryAnalyticsRepository
from tidings.store.memory.insights import InMemoryInsightRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.memory.posts import InMemoryPostRepository

NOW = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)  # a Monday
START = "2026-07-07T10:00:00-04:00"


class Starter:
    def start(self, user_id: str, post_id: str, version: int, due_at: datetime) -> bool:
        return True


class PostsOut(InMemoryPostRepository):
    """The in-memory posts, with those in `published` / `failed` read back so (as publishing left them)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome: dict[str, PostStatus] = {}

    def get(self, user_id: str, post_id: str) -> ScheduledPost | None:
        post = super().get(user_id, post_id)
        if post is None or post_id not in self.outcome:
            return post
        return post.model_copy(update={"status": self.outcome[post_id]})


class World:
    def __init__(self, running_limit: int = 5) -> None:
        self.clock = FakeClock(NOW)
        self.posts = PostsOut()
        self.analytics = InMemoryPostAnalyticsRepository()
        self.insights = InMemoryInsightRepository()
        self.scheduling = SchedulingService(
            settings=Settings(table_name="t"),
            posts=self.posts,
            analytics=InMemoryAnalyticsRepository(),
            starter=Starter(),
            clock=self.clock,
            sleep=lambda _: None,
        )
        self.service = ABTestService(
            InMemoryABTestRepository(),
            self.scheduling,
            self.posts,
            self.analytics,
            self.insights,
            self.clock,
            running_limit=running_limit,
            seeds=lambda: 42,
        )
        self.app: APIGatewayHttpResolver = build_app(lambda: self.scheduling, ab_tests=lambda: self.service)

    def publish(self, test: dict[str, Any], counts: dict[str, tuple[int, int]]) -> None:
        """Every post of the test published at its slot; (reach, likes) per variant label, read 24 h on."""
        for variant in test["variants"]:
            reach, likes = counts[variant["label"]]
            for post in variant["posts"]:
                self.posts.outcome[post["postId"]] = PostStatus.PUBLISHED
                published = datetime.fromisoformat(post["scheduledTime"].replace("Z", "+00:00"))
                metrics = PostMetrics(reach=reach, likes=likes)
                self.analytics.track(
                    PostAnalytics(
                        user_id="u1",
                        post_id=post["postId"],
                        platform=Platform(post["platform"]),
                        published_at=published,
                        latest=metrics,
                        history=[MetricSnapshot(at=published + timedelta(hours=24), metrics=metrics)],
                        status=CollectionStatus.ACTIVE,
                    )
                )
        self.clock.advance(timedelta(days=3))


def body(**changes: Any) -> dict[str, Any]:
    made: dict[str, Any] = {
        "name": "Open house wording",
        "variants": [
            {"content": "Open house Saturday 2-4pm on Elm St", "hashtags": ["openhouse"]},
            {"content": "Come see 12 Elm St this Saturday, 2-4pm: coffee on us"},
        ],
        "platforms": ["facebook", "linkedin"],
        "schedule": {"start": START, "spacingMinutes": 30},
        "metric": "engagementRate",
    }
    made.update(changes)
    return made


def create(world: World, user: str = "u1", **changes: Any) -> tuple[int, Any]:
    return call(world.app, "POST", "/ab-tests", body=json.dumps(body(**changes)), user=user)


def one(world: World, test_id: str, user: str = "u1") -> tuple[int, Any]:
    return call(world.app, "GET", f"/ab-tests/{test_id}", user=user, path_parameters={"testId": test_id})


def stop(world: World, test_id: str) -> tuple[int, Any]:
    path = f"/ab-tests/{test_id}/stop"
    return call(world.app, "POST", path, path_parameters={"testId": test_id})


@pytest.fixture
def world() -> World:
    return World()


def test_a_test_schedules_each_variant_on_each_platform_in_alternating_slots(world: World) -> None:
    status, test = create(world)

    assert status == 201, test
    assert (test["status"], test["metric"], test["rule"]["minSampleSize"]) == (
        "collecting",
        "engagementRate",
        1000,
    )
    slots = {
        (p["platform"], p["slot"]): (v["label"], p["scheduledTime"])
        for v in test["variants"]
        for p in v["posts"]
    }
    assert slots[("facebook", 0)][0] == slots[("linkedin", 1)][0]  # the order alternates
    assert slots[("facebook", 0)][1] == slots[("linkedin", 0)][1] == "2026-07-07T14:00:00.000Z"
    assert slots[("facebook", 1)][1] == "2026-07-07T14:30:00.000Z"
    queued = {p.post_id: p for p in world.posts.iter_all("u1")}
    assert len(queued) == 4
    for variant in test["variants"]:
        for post in variant["posts"]:
            stored = queued[post["postId"]]
            assert (stored.status, [str(p) for p in stored.platforms]) == ("scheduled", [post["platform"]])
            assert stored.content == variant["content"]
    read = one(world, test["id"])[1]
    assert read["evaluation"]["note"] == "waiting for the first reading of every variant's posts"
    assert call(world.app, "GET", "/ab-tests")[1]["abTests"][0]["id"] == test["id"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"variants": [{"content": "only one"}]}, 422, "invalid_variant_count"),
        ({"variants": [{"content": f"v{i}"} for i in range(5)]}, 422, "invalid_variant_count"),
        ({"variants": [{"content": "same"}, {"content": "same"}]}, 422, "duplicate_variants"),
        ({"metric": "likes"}, 422, "unknown_metric"),
        ({"minSampleSize": 10}, 422, "invalid_min_sample_size"),
        ({"name": "  "}, 422, "invalid_name"),
        ({"platforms": ["myspace"]}, 422, "unknown_platform"),
        ({"platforms": []}, 422, "no_platforms"),
        ({"schedule": {"start": "2026-07-07T10:00:00", "spacingMinutes": 30}}, 422, "time_without_offset"),
        (
            {"schedule": {"start": "2026-07-01T10:00:00Z", "spacingMinutes": 30}},
            422,
            "scheduled_time_in_past",
        ),
        ({"schedule": {"start": START, "spacingMinutes": 0}}, 422, "invalid_spacing"),
        (
            {"schedule": {"start": "2026-07-07T23:50:00-04:00", "spacingMinutes": 30}},
            422,
            "slots_not_comparable",
        ),
        ({"schedule": {"start": START, "spacingMinutes": "30"}}, 422, "validation_error"),
        (
            {"platforms": ["twitter"], "variants": [{"content": "x" * 300}, {"content": "short"}]},
            422,
            "content_too_long",
        ),
        # the queue rules of POST /posts: two posts on one platform at least 30 minutes apart
        ({"schedule": {"start": START, "spacingMinutes": 10}}, 409, "min_delay_violated"),
    ],
)
def test_wrong_requests_are_refused_with_their_code_and_leave_no_post(
    world: World, changes: dict[str, Any], status: int, code: str
) -> None:
    answer = create(world, **changes)

    assert answer[0] == status, answer
    assert answer[1]["code"] == code
    assert [p for p in world.posts.iter_all("u1") if p.status == "scheduled"] == []
    assert call(world.app, "GET", "/ab-tests")[1]["abTests"] == []


def test_malformed_json_is_a_400(world: World) -> None:
    assert call(world.app, "POST", "/ab-tests", body="{")[1]["code"] == "malformed_json"


def test_unknown_and_another_users_tests_are_not_found(world: World) -> None:
    _, test = create(world)

    assert one(world, "abt_0000000000000_00000000")[0] == 404
    status, answer = one(world, test["id"], user="u2")
    assert (status, answer["code"]) == (404, "abtest_not_found")


@pytest.mark.parametrize(
    ("query", "code"), [({"limit": "0"}, "invalid_limit"), ({"nextToken": "zz"}, "invalid_next_token")]
)
def test_bad_list_parameters_are_refused(world: World, query: dict[str, str], code: str) -> None:
    status, answer = call(world.app, "GET", "/ab-tests", query=query)

    assert (status, answer["code"]) == (422, code)


def test_stopping_cancels_the_posts_not_yet_out_and_ends_the_test(world: World) -> None:
    _, test = create(world)
    first = test["variants"][0]["posts"][0]["postId"]
    world.posts.outcome[first] = PostStatus.PUBLISHED  # already out: stays as it is

    status, stopped = stop(world, test["id"])

    assert status == 200, stopped
    assert (stopped["status"], stopped["finalReason"]) == ("stopped", "stopped_by_user")
    statuses = sorted(str(p.status) for p in world.posts.iter_all("u1") if p.post_id != first)
    assert statuses == ["cancelled"] * 3
    again = stop(world, test["id"])
    assert (again[0], again[1]["code"]) == (409, "abtest_not_running")


def test_running_tests_are_limited_per_user_and_a_finished_one_gives_its_place_back() -> None:
    world = World(running_limit=1)
    _, test = create(world)

    refused = create(world, schedule={"start": "2026-07-08T10:00:00-04:00", "spacingMinutes": 30})
    assert (refused[0], refused[1]["code"]) == (409, "abtest_limit_reached")
    assert create(world, user="u2")[0] == 201  # another user's limit is their own

    stop(world, test["id"])
    assert create(world, schedule={"start": "2026-07-08T10:00:00-04:00", "spacingMinutes": 30})[0] == 201


def test_the_monitor_declares_the_better_variant_and_records_an_insight(world: World) -> None:
    _, test = create(world)
    world.publish(test, {"A": (3000, 90), "B": (3000, 180)})

    report = world.service.monitor()

    assert (report.checked, report.completed) == (1, 1)
    _, done = one(world, test["id"])
    assert (done["status"], done["winner"]) == ("completed", "B")
    (a, b) = (v["result"] for v in done["variants"])
    assert (a["impressions"], a["value"], b["impressions"], b["value"]) == (6000, 180, 6000, 360)
    assert b["probabilityToBeBest"] >= 0.95
    assert b["credibleInterval"]["low"] < b["estimate"] < b["credibleInterval"]["high"]
    insight = world.insights.get("u1", done["insightId"])
    assert insight is not None
    assert insight.type == InsightType.AB_TEST
    assert insight.evidence["testId"] == test["id"]
    # insight generation retires what its own rules no longer find, never an A/B test's winner
    InsightService(world.analytics, world.insights, world.clock).generate("u1")
    kept = world.insights.get("u1", done["insightId"])
    assert kept is not None
    assert kept.expires_at == insight.expires_at
    assert world.service.monitor().checked == 0  # a decided test is not looked at again


def test_a_sample_without_a_clear_best_ends_inconclusive_without_an_insight(world: World) -> None:
    _, test = create(world)
    world.publish(test, {"A": (3000, 150), "B": (3000, 152)})

    world.service.monitor()

    _, done = one(world, test["id"])
    assert (done["status"], done["winner"], done["finalReason"]) == (
        "inconclusive",
        None,
        "no_variant_probably_best",
    )
    assert done["insightId"] is None
    assert world.insights.for_user("u1") == []


def test_below_the_minimum_sample_the_test_keeps_collecting_with_its_probabilities(world: World) -> None:
    _, test = create(world, minSampleSize=5000)
    world.publish(test, {"A": (1000, 10), "B": (1000, 100)})

    world.service.monitor()

    _, read = one(world, test["id"])
    assert (read["status"], read["winner"]) == ("collecting", None)
    assert read["evaluation"]["sampleReached"] is False
    assert read["variants"][1]["result"]["probabilityToBeBest"] > 0.99


def test_a_variant_that_failed_to_publish_fails_the_test_and_cancels_the_rest(world: World) -> None:
    _, test = create(world)
    failed = test["variants"][1]["posts"][0]["postId"]
    world.posts.outcome[failed] = PostStatus.FAILED

    world.service.monitor()

    _, done = one(world, test["id"])
    assert (done["status"], done["finalReason"]) == ("failed", "variant_not_published")
    assert (
        sorted(str(p.status) for p in world.posts.iter_all("u1") if p.post_id != failed) == ["cancelled"] * 3
    )


def test_a_test_that_cannot_be_checked_does_not_keep_the_others_from_their_decision(world: World) -> None:
    _, broken = create(world)
    _, fine = create(world, schedule={"start": "2026-07-08T10:00:00-04:00", "spacingMinutes": 30})
    world.publish(fine, {"A": (3000, 90), "B": (3000, 180)})
    broken_post = broken["variants"][0]["posts"][0]["postId"]
    world.posts.outcome[broken_post] = PostStatus.PUBLISHED
    original = world.analytics.get

    def failing_read(user_id: str, platform: Platform, post_id: str) -> PostAnalytics | None:
        if post_id == broken_post:
            raise RuntimeError("the item does not read")
        return original(user_id, platform, post_id)

    world.analytics.get = failing_read  # type: ignore[method-assign]
    for variant in broken["variants"]:
        for post in variant["posts"]:
            world.posts.outcome[post["postId"]] = PostStatus.PUBLISHED

    with pytest.raises(MonitorIncomplete) as raised:
        world.service.monitor()

    assert (raised.value.report.errors, raised.value.report.completed) == (1, 1)
    assert one(world, fine["id"])[1]["winner"] == "B"
