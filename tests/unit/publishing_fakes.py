"""The publish step on the in-memory repositories with fake platforms and a fake clock, driven as the
state machine drives it; the platforms keep what went live, so a test sees what followers would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.core.clock import FakeClock, iso_ms
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.posts import ScheduledPost
from tidings.publishing.base import Published, PublishRequest
from tidings.publishing.step import PublishStep
from tidings.publishing.task_events import parse_publish_task
from tidings.store.budgets import Limit
from tidings.store.memory.accounts import InMemoryAccountRepository
from tidings.store.memory.budgets import InMemoryBudgetRepository
from tidings.store.memory.ledger import InMemoryLedgerRepository
from tidings.store.memory.posts import InMemoryPostRepository

DUE = datetime(2026, 9, 14, 17, 30, 0, 400_000, tzinfo=UTC)
WAITS = [300, 900, 2700]
FB, X, LI = Platform.FACEBOOK, Platform.TWITTER, Platform.LINKEDIN
ACCOUNT_IDS = {FB: "104729384756", X: "44196397", LI: "urn:li:person:8675309"}


@dataclass(frozen=True)
class Fail:
    """The platform's answer to one call: an error, after which the post may or may not be live."""

    kind: ErrorKind
    code: str
    went_out: bool = False
    retry_after: float | None = None


@dataclass
class FakePlatform:
    """A platform that answers each call with the next scripted Fail (or accepts it) and keeps what
    went live, so a test sees what its followers would."""

    platform: Platform
    clock: FakeClock
    script: list[Fail] = field(default_factory=list)
    live: list[tuple[datetime, str]] = field(default_factory=list)
    calls: list[datetime] = field(default_factory=list)
    read_backs: int = 0

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        assert account.account_id == ACCOUNT_IDS[self.platform]
        now = self.clock.now()
        self.calls.append(now)
        answer = self.script.pop(0) if self.script else None
        if answer is None or answer.went_out:
            self.live.append((now, request.text))
        if answer is not None:
            raise PlatformCallError(
                answer.kind,
                answer.code,
                f"{self.platform} said {answer.code}",
                retry_after=answer.retry_after,
            )
        return self._published(len(self.live) - 1)

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        self.read_backs += 1
        found = [i for i, (at, text) in enumerate(self.live) if text == request.text and at >= since]
        return self._published(found[0]) if found else None

    def _published(self, index: int) -> Published:
        return Published(f"{self.platform}-{index}", f"https://{self.platform}.example/{index}")


@dataclass
class Publishing:
    step: PublishStep
    posts: InMemoryPostRepository
    budgets: InMemoryBudgetRepository
    platforms: dict[Platform, FakePlatform]
    clock: FakeClock
    user: str = "agent-7"

    def schedule(self, *platforms: Platform, user: str | None = None, **fields: Any) -> ScheduledPost:
        post = ScheduledPost(
            user_id=user or self.user,
            post_id=uuid.uuid4().hex,
            content=f"Just listed: 3 bed craftsman, {uuid.uuid4().hex[:4]}",
            platforms=list(platforms),
            scheduled_time=DUE,
            created_at=DUE - timedelta(days=1),
            updated_at=DUE - timedelta(days=1),
            **fields,
        )
        self.posts.put_new(post)
        return post

    def attempt(
        self, post: ScheduledPost, attempt: int = 1, *, version: int = 1, execution: str = "exec-1"
    ) -> dict[str, Any]:
        event = {
            "userId": post.user_id,
            "postId": post.post_id,
            "version": version,
            "dueAt": iso_ms(post.scheduled_time),
            "wakeAt": iso_ms(post.scheduled_time - timedelta(seconds=2)),
            "attempt": attempt,
            "executionId": execution,
        }
        return self.step.handle(parse_publish_task(event))

    def until_done(self, post: ScheduledPost) -> list[int]:
        """Run attempts as the state machine would, waiting as told; the waits."""
        waits: list[int] = []
        out = self.attempt(post)
        while out["status"] == "retry":
            waits.append(out["retryInSeconds"])
            self.clock.advance(timedelta(seconds=out["retryInSeconds"]))
            out = self.attempt(post, out["attempt"])
        return waits

    def stored(self, post: ScheduledPost) -> ScheduledPost:
        found = self.posts.get(post.user_id, post.post_id)
        assert found is not None
        return found


def publishing_harness() -> Publishing:
    """Three fake platforms (Facebook, X, LinkedIn) with accounts of agent-7 and agent-8 connected,
    the publish step on in-memory repositories, back-off WAITS, X's budget one post a day."""
    clock = FakeClock(DUE - timedelta(seconds=2))
    accounts = InMemoryAccountRepository(clock=clock)
    for user in ("agent-7", "agent-8"):
        for platform, account_id in ACCOUNT_IDS.items():
            accounts.connect(user, str(platform), account_id, f"token-{platform}-0123456789")
    platforms = {p: FakePlatform(p, clock) for p in (FB, X, LI)}
    posts = InMemoryPostRepository()
    budgets = InMemoryBudgetRepository({"twitter": (Limit(1, 86_400),)})
    step = PublishStep(
        Settings(retry_intervals=WAITS, http_timeout_seconds=10),
        posts,
        InMemoryLedgerRepository(),
        accounts,
        lambda platform: platforms[platform],
        clock,
        budgets=budgets,
    )
    return Publishing(step, posts, budgets, platforms, clock)
