"""Dry runs and the token forecast against DynamoDB Local and KMS (moto): each problem a dry run
claims to find, found from the stored queue, with nothing sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.provision import LocalStack
from tidings.aws.vault import CredentialVault
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.posts import ScheduledPost
from tidings.publishing.readiness import Readiness, preview
from tidings.store.accounts import AccountRepository, DynamoAccountRepository
from tidings.store.budgets import DynamoBudgetRepository, limits_with
from tidings.store.posts import DynamoPostRepository, PostRepository

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def user() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def build(
    local_stack: LocalStack, clock: FakeClock, **settings: object
) -> tuple[Readiness, AccountRepository, PostRepository]:
    ddb = local_stack.client("dynamodb")
    settings.setdefault("linkedin_version", "202605")  # current at NOW
    config = Settings(table_name=local_stack.table_name, **settings)  # type: ignore[arg-type]
    accounts = DynamoAccountRepository(
        local_stack.table_name,
        CredentialVault(local_stack.credentials_key_arn, local_stack.client("kms")),
        ddb,
        clock,
    )
    posts = DynamoPostRepository(local_stack.table_name, ddb)
    budgets = DynamoBudgetRepository(local_stack.table_name, ddb, limits_with(config.rate_budget_overrides))
    return Readiness(config, posts, accounts, budgets, clock), accounts, posts


def store_post(
    posts: PostRepository, user: str, platforms: list[Platform], when: datetime, **fields: object
) -> ScheduledPost:
    """Written straight to the table: as if the rules changed after it was scheduled."""
    post = ScheduledPost(
        user_id=user,
        post_id=uuid.uuid4().hex,
        content=str(fields.pop("content", "Open house Sunday")),
        platforms=platforms,
        scheduled_time=when,
        created_at=NOW,
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )
    posts.put_new(post)
    return post


def codes(report_problems: list) -> set[tuple[str | None, str]]:  # type: ignore[type-arg]
    return {(p.platform, p.code) for p in report_problems}


def test_a_post_that_no_longer_meets_a_platforms_rules_is_an_error(
    local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    readiness, accounts, posts = build(local_stack, clock)
    accounts.connect(user, "twitter", "2244994945", "token-aaaaaaaaaaaa")
    post = store_post(posts, user, [Platform.TWITTER], NOW + timedelta(hours=1), content="x" * 300)

    report = readiness.dry_run_post(user, post.post_id)

    assert codes(report.problems) == {("twitter", "content_too_long")}
    assert report.problems[0].check == "validation"
    assert not report.ok


def test_a_renewable_token_without_the_apps_oauth_client_is_an_error_and_with_it_fine(
    local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    readiness, accounts, posts = build(local_stack, clock)
    accounts.connect(
        user,
        "linkedin",
        "urn:li:person:abc",
        "token-aaaaaaaaaaaa",
        refresh_token="r-1",
        expires_at=NOW + timedelta(minutes=30),
    )
    post = store_post(posts, user, [Platform.LINKEDIN], NOW + timedelta(hours=2))

    problems = readiness.dry_run_post(user, post.post_id).problems
    assert codes(problems) == {("linkedin", "token_refresh_not_configured")}
    assert "TIDINGS_LINKEDIN_CLIENT_ID" in problems[0].message

    configured, _, _ = build(local_stack, clock, linkedin_client_id="id", linkedin_client_secret="secret")
    assert configured.dry_run_post(user, post.post_id).problems == []
    health = configured.account_health(user, "linkedin")
    assert (health.status, health.renews_automatically) == ("healthy", True)


def test_linkedin_versions_are_checked_against_the_posts_time(
    local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    readiness, accounts, posts = build(local_stack, clock, linkedin_version="202507")
    accounts.connect(user, "linkedin", "urn:li:organization:2414183", "token-aaaaaaaaaaaa")
    ending = store_post(posts, user, [Platform.LINKEDIN], datetime(2026, 6, 20, tzinfo=UTC))
    retired = store_post(posts, user, [Platform.LINKEDIN], datetime(2026, 7, 2, tzinfo=UTC))

    (warning,) = readiness.dry_run_post(user, ending.post_id).problems
    (error,) = readiness.dry_run_post(user, retired.post_id).problems
    assert (warning.code, warning.severity) == ("linkedin_version_ending", "warning")
    assert (error.code, error.severity) == ("linkedin_version_unsupported", "error")
    bad, _, _ = build(local_stack, clock, linkedin_version="2026-10")
    assert [p.code for p in bad.dry_run_post(user, ending.post_id).problems] == ["linkedin_version_invalid"]


def test_the_queue_dry_run_counts_budget_windows_in_time_order(
    local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    readiness, accounts, posts = build(local_stack, clock, rate_budget_overrides="tiktok:2/3600")
    accounts.connect(user, "tiktok", "open-abc", "token-aaaaaaaaaaaa")
    video = ["https://cdn.example.com/tour.mp4"]
    base = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    queued = [
        store_post(posts, user, [Platform.TIKTOK], base + timedelta(minutes=i), media_urls=video)
        for i in range(3)
    ]
    next_hour = store_post(posts, user, [Platform.TIKTOK], base + timedelta(hours=1), media_urls=video)

    reports = {r.post.post_id: r for r in readiness.dry_run_queue(user, 7)}

    assert [codes(reports[p.post_id].problems) for p in queued] == [
        set(),
        set(),
        {("tiktok", "budget_delayed")},
    ]
    delayed = reports[queued[2].post_id].problems[0]
    assert delayed.details["availableAt"] == "2026-06-01T13:00:00.000Z"
    assert reports[queued[2].post_id].ok  # a warning: it goes out later
    assert reports[next_hour.post_id].problems == []


def test_dry_runs_refuse_unknown_posts_and_bad_horizons(
    local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    readiness, _, _ = build(local_stack, clock)
    with pytest.raises(NotFound):
        readiness.dry_run_post(user, "nope")
    for days in (0, 32):
        with pytest.raises(ValidationFailed):
            readiness.dry_run_queue(user, days)


def test_preview_names_how_media_goes_out(local_stack: LocalStack, clock: FakeClock, user: str) -> None:
    _, _, posts = build(local_stack, clock)
    post = store_post(
        posts,
        user,
        [Platform.FACEBOOK, Platform.YOUTUBE, Platform.LINKEDIN],
        NOW + timedelta(days=1),
        content="A very long first line " + "x" * 120 + "\nmore",
        media_urls=["https://cdn.example.com/tour.mp4"],
    )
    by = {p.platform: p for p in preview(post)}
    assert by["facebook"].media_as == "video"
    assert by["youtube"].title is not None
    assert len(by["youtube"].title) == 100
    assert by["linkedin"].media[0].kind == "video"


def test_a_draft_is_checked_like_a_stored_post_and_nothing_is_stored(
    local_stack: LocalStack, clock: FakeClock, user: str
) -> None:
    readiness, accounts, posts = build(local_stack, clock)
    accounts.connect(user, "twitter", "2244994945", "token-aaaaaaaaaaaa")
    draft = ScheduledPost(
        user_id=user,
        post_id="draft",
        content="x" * 300,
        platforms=[Platform.TWITTER, Platform.FACEBOOK],
        scheduled_time=NOW + timedelta(hours=2),
        created_at=NOW,
        updated_at=NOW,
    )

    report = readiness.dry_run_draft(draft)

    assert codes(report.problems) == {("twitter", "content_too_long"), ("facebook", "account_not_connected")}
    assert not report.ok
    assert posts.page(user, limit=10).posts == []
