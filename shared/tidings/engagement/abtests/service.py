"""The A/B test use-cases: create a test (its variants scheduled as posts through the scheduling
service, so the post rules, queue rules and publishing are those of `POST /posts`), list and read
tests, stop one, and the monitor's pass that evaluates the running tests and decides them
(`tidings.engagement.abtests.rule`). A winner is recorded as an insight (type `abtest`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, NotFound, ValidationFailed, choice
from tidings.core.platforms import Platform
from tidings.engagement.abtests.rule import DEFAULT_MIN_SAMPLE, THRESHOLD, Records, Verdict, decide, evaluate
from tidings.engagement.abtests.slots import assign
from tidings.models.abtests import (
    FINISHED,
    LABELS,
    MAX_VARIANTS,
    MIN_VARIANTS,
    ABTest,
    ABTestStatus,
    Evaluation,
    Metric,
    Variant,
    VariantPost,
    VariantResult,
)
from tidings.models.post_analytics import CollectionStatus
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.publishing.validation import check_future, parse_platforms
from tidings.scheduling.service import NewPost, SchedulingService
from tidings.store.abtests import MAX_PAGE, ABTestRepository, limit_reached
from tidings.store.insights import Impact, Insight, InsightRepository, InsightType, insight_id
from tidings.store.post_analytics import PostAnalyticsRepository
from tidings.store.posts import PostRepository

logger = logging.getLogger(__name__)

RUNNING_LIMIT = 5  # running tests per user
MIN_SAMPLE_RANGE = (100, 10_000_000)
MAX_SPACING_MINUTES = 180
MAX_NAME = 200
INSIGHT_LIFETIME = timedelta(days=90)
_PUBLISHED = (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED)
_LOST = (PostStatus.FAILED, PostStatus.CANCELLED)


@dataclass(frozen=True)
class NewVariant:
    content: str
    media_urls: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewABTest:
    name: str
    variants: tuple[NewVariant, ...]
    platforms: list[str]
    start: datetime
    spacing_minutes: int
    metric: str
    min_sample_size: int | None = None


@dataclass
class MonitorReport:
    checked: int = 0
    completed: int = 0
    inconclusive: int = 0
    failed: int = 0
    collecting: int = 0
    conflicts: int = 0
    errors: int = 0
    decided: list[str] = field(default_factory=list)


class MonitorIncomplete(RuntimeError):
    """Some running tests could not be checked (the others were): the run fails, so it is seen."""

    def __init__(self, report: MonitorReport) -> None:
        super().__init__(f"{report.errors} of {report.checked} running A/B tests could not be checked")
        self.report = report


def _invalid(message: str, field_name: str, code: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, {"field": field_name, **details}, code=code)


def _check(req: NewABTest, now: datetime) -> tuple[Metric, int, list[Platform]]:
    if not req.name.strip() or len(req.name) > MAX_NAME:
        raise _invalid(f"name must be 1 to {MAX_NAME} characters", "name", "invalid_name")
    if not MIN_VARIANTS <= len(req.variants) <= MAX_VARIANTS:
        raise _invalid(
            f"an A/B test compares {MIN_VARIANTS} to {MAX_VARIANTS} variants, not {len(req.variants)}",
            "variants",
            "invalid_variant_count",
            min=MIN_VARIANTS,
            max=MAX_VARIANTS,
        )
    if len(set(req.variants)) != len(req.variants):
        raise _invalid("two variants are the same: each must differ", "variants", "duplicate_variants")
    metric = choice(Metric, req.metric, field="metric", code="unknown_metric")
    sample = DEFAULT_MIN_SAMPLE if req.min_sample_size is None else req.min_sample_size
    low, high = MIN_SAMPLE_RANGE
    if not low <= sample <= high:
        raise _invalid(
            f"minSampleSize must be {low} to {high} impressions per variant",
            "minSampleSize",
            "invalid_min_sample_size",
            min=low,
            max=high,
        )
    if not 1 <= req.spacing_minutes <= MAX_SPACING_MINUTES:
        raise _invalid(
            f"spacingMinutes must be 1 to {MAX_SPACING_MINUTES}",
            "schedule.spacingMinutes",
            "invalid_spacing",
        )
    check_future(req.start, now, field="schedule.start")
    return metric, sample, parse_platforms(req.platforms)


def new_test_id(now: datetime) -> str:
    """Creation time first (milliseconds), so a user's tests sort by creation."""
    return f"abt_{int(now.timestamp() * 1000):013d}_{secrets.token_hex(4)}"


class ABTestService:
    def __init__(
        self,
        tests: ABTestRepository,
        scheduling: SchedulingService,
        posts: PostRepository,
        analytics: PostAnalyticsRepository,
        insights: InsightRepository,
        clock: Clock = DEFAULT_CLOCK,
        *,
        running_limit: int = RUNNING_LIMIT,
        seeds: Callable[[], int] = lambda: secrets.randbits(32),
    ) -> None:
        self.tests = tests
        self.scheduling = scheduling
        self.posts = posts
        self.analytics = analytics
        self.insights = insights
        self.clock = clock
        self.running_limit = running_limit
        self.seeds = seeds

    # -- create ------------------------------------------------------------------------------------

    def create(self, user_id: str, req: NewABTest) -> ABTest:
        now = self.clock.now()
        metric, sample, platforms = _check(req, now)
        if self.tests.running_count(user_id) >= self.running_limit:
            raise limit_reached(self.running_limit)  # early; the create below holds the limit for sure
        seed = self.seeds()
        slots = assign(len(req.variants), [str(p) for p in platforms], req.start, req.spacing_minutes, seed)
        wanted = [
            NewPost(
                content=req.variants[s.variant].content,
                platforms=[s.platform],
                scheduled_time=s.time,
                hashtags=req.variants[s.variant].hashtags,
                media_urls=req.variants[s.variant].media_urls,
            )
            for s in slots
        ]
        made = self.scheduling.schedule_batch(user_id, wanted)
        created = [p for p in made if isinstance(p, ScheduledPost)]
        refused = [e for e in made if isinstance(e, Exception)]
        if refused:
            self._cancel(user_id, [p.post_id for p in created])
            raise refused[0]
        posts: dict[int, list[VariantPost]] = {}
        for s, post in zip(slots, created, strict=True):
            posts.setdefault(s.variant, []).append(VariantPost(s.platform, post.post_id, s.slot, s.time))
        test = ABTest(
            user_id=user_id,
            test_id=new_test_id(now),
            name=req.name.strip(),
            metric=metric,
            min_sample_size=sample,
            platforms=tuple(str(p) for p in platforms),
            start=req.start,
            spacing_minutes=req.spacing_minutes,
            seed=seed,
            variants=tuple(
                Variant(LABELS[i], v.content, v.media_urls, v.hashtags, tuple(posts[i]))
                for i, v in enumerate(req.variants)
            ),
            created_at=now,
            updated_at=now,
        )
        try:
            return self.tests.create(test, limit=self.running_limit)
        except Conflict:
            self._cancel(user_id, [p.post_id for p in created])
            raise

    def _cancel(self, user_id: str, post_ids: list[str]) -> int:
        """Cancel those of the posts still scheduled; answers how many."""
        cancelled = 0
        for post_id in post_ids:
            try:
                self.scheduling.cancel(user_id, post_id)
            except (Conflict, NotFound):
                continue  # out already, or going out now: it stays as it is
            cancelled += 1
        return cancelled

    # -- read --------------------------------------------------------------------------------------

    def get(self, user_id: str, test_id: str) -> ABTest:
        """The test; a collecting one with its evaluation as of now (which decides nothing: the monitor
        decides)."""
        test = self.tests.get(user_id, test_id)
        if test is None:
            raise NotFound("no such A/B test", {"testId": test_id}, code="abtest_not_found")
        if test.running:
            test = replace(test, evaluation=evaluate(test, self._records(test), self.clock.now()))
        return test

    def list(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[ABTest], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise _invalid(f"limit must be 1 to {MAX_PAGE}", "limit", "invalid_limit")
        try:
            return self.tests.page(user_id, limit, next_token)
        except ValueError as exc:
            raise _invalid(str(exc), "nextToken", "invalid_next_token") from exc

    def _records(self, test: ABTest) -> Records:
        return {
            (p.platform, p.post_id): self.analytics.get(test.user_id, Platform(p.platform), p.post_id)
            for _, p in test.all_posts()
        }

    # -- stop --------------------------------------------------------------------------------------

    def stop(self, user_id: str, test_id: str) -> ABTest:
        test = self.get(user_id, test_id)
        if test.status in FINISHED:
            raise Conflict(
                f"the A/B test is {test.status} already",
                {"testId": test_id, "status": str(test.status)},
                code="abtest_not_running",
            )
        self._cancel(user_id, [p.post_id for _, p in test.all_posts()])
        return self._finish(test, Verdict(ABTestStatus.STOPPED, None, "stopped_by_user"))

    def _finish(self, test: ABTest, verdict: Verdict, insight: str | None = None) -> ABTest:
        now = self.clock.now()
        return self.tests.save(
            replace(
                test,
                status=verdict.status,
                winner=verdict.winner,
                final_reason=verdict.reason,
                completed_at=now,
                updated_at=now,
                insight_id=insight,
            )
        )

    # -- the monitor ---------------------------------------------------------------------------------

    def monitor(self) -> MonitorReport:
        """Evaluate every running test once and decide those that can be (see `check`)."""
        report = MonitorReport()
        for test in self.tests.running():
            report.checked += 1
            try:
                after = self.check(test)
            except Conflict:
                report.conflicts += 1  # stopped or changed meanwhile: the next pass sees it as it is
                continue
            except Exception:
                # one test that cannot be checked (an item that does not read, a table error) must not
                # keep the others from their decision; the run fails at its end, so its alarm goes off
                logger.exception("A/B test %s of %s could not be checked", test.test_id, test.user_id)
                report.errors += 1
                continue
            status = str(after.status)
            setattr(report, status, getattr(report, status) + 1)
            if after.status in FINISHED:
                report.decided.append(after.test_id)
        if report.errors:
            raise MonitorIncomplete(report)
        return report

    def check(self, test: ABTest) -> ABTest:
        """One running test: failed when a variant's post was not published (the variants are no longer
        comparable; the others still scheduled are cancelled); decided at the first evaluation where
        every variant has its minimum sample; inconclusive when every post's collection ended short of
        it; otherwise collecting, with the evaluation stored."""
        statuses = {p.post_id: self._post_status(test.user_id, p.post_id) for _, p in test.all_posts()}
        lost = sorted(pid for pid, status in statuses.items() if status in _LOST or status is None)
        if lost:
            self._cancel(test.user_id, list(statuses))
            return self._finish(test, Verdict(ABTestStatus.FAILED, None, "variant_not_published"))
        if not all(status in _PUBLISHED for status in statuses.values()):
            return test  # not all out yet: nothing to compare
        records = self._records(test)
        evaluation = evaluate(test, records, self.clock.now())
        test = replace(test, evaluation=evaluation)
        verdict = decide(evaluation)
        if verdict is None and all(
            r is not None and r.status != CollectionStatus.ACTIVE for r in records.values()
        ):
            verdict = Verdict(ABTestStatus.INCONCLUSIVE, None, "sample_not_reached")
        if verdict is None:
            return self.tests.save(replace(test, updated_at=self.clock.now()))
        if verdict.winner is None:
            return self._finish(test, verdict)
        insight = self._record_winner(test, evaluation, verdict.winner)
        try:
            return self._finish(test, verdict, insight.insight_id)
        except Conflict:
            self.insights.delete(test.user_id, insight.insight_id, insight.version)  # stopped meanwhile
            raise

    def _post_status(self, user_id: str, post_id: str) -> PostStatus | None:
        post = self.posts.get(user_id, post_id)
        return post.status if post is not None else None

    # -- the winner as an insight --------------------------------------------------------------------

    def _record_winner(self, test: ABTest, evaluation: Evaluation, winner: str) -> Insight:
        best = next(r for r in evaluation.results if r.label == winner)
        runner_up = max((r for r in evaluation.results if r.label != winner), key=lambda r: r.estimate)
        lift = best.estimate / runner_up.estimate - 1 if runner_up.estimate > 0 else 1.0
        impact = Impact.HIGH if lift >= 0.5 else Impact.MEDIUM if lift >= 0.2 else Impact.LOW
        variant = next(v for v in test.variants if v.label == winner)
        now = self.clock.now()
        the_id = insight_id(test.user_id, InsightType.AB_TEST, f"abtest:{test.test_id}")
        what = "reach per post" if test.metric is Metric.REACH else str(test.metric)
        insight = Insight(
            type=InsightType.AB_TEST,
            subject=f"abtest:{test.test_id}",
            title=f'Variant {winner} won the A/B test "{test.name}"',
            description=(
                f"Variant {winner} has the best {what} ({best.estimate:.4g} against {runner_up.estimate:.4g} "
                f"for variant {runner_up.label}, {lift:+.0%}), with a {best.probability_best:.1%} "
                f"probability of being the best of {len(test.variants)} variants."
            ),
            impact=impact,
            confidence=min(0.99, best.probability_best),
            evidence={
                "testId": test.test_id,
                "metric": str(test.metric),
                "rule": f"probability to be best >= {THRESHOLD}",
                "minSampleSize": test.min_sample_size,
                "readingAgeSeconds": evaluation.reading_age_seconds,
                "platforms": list(evaluation.platforms),
                "variants": [_result_evidence(r) for r in evaluation.results],
                "lift": round(lift, 6),
            },
            recommendations=(f"Write your next posts like variant {winner}: {variant.content[:200]}",),
            signal=lift,
            user_id=test.user_id,
            insight_id=the_id,
            raised_signal=lift,
            created_at=now,
            updated_at=now,
            expires_at=now + INSIGHT_LIFETIME,
        )
        existing = self.insights.get(test.user_id, the_id)
        saved = self.insights.save(insight, existing.version if existing else None)
        if saved is None:
            raise Conflict("the insight changed meanwhile", {"insightId": the_id}, code="abtest_busy")
        return saved


def _result_evidence(r: VariantResult) -> dict[str, object]:
    return {
        "variant": r.label,
        "impressions": r.impressions,
        "value": r.value,
        "estimate": round(r.estimate, 8),
        "interval": [round(r.interval[0], 8), round(r.interval[1], 8)],
        "probabilityBest": round(r.probability_best, 6),
    }
