"""Delivering recorded CRM activities to the CRM, exactly once, from the crm_sync function.

Two ways in, one path: the table's stream (an activity just recorded, or a failed one the user
retried) and a periodic run every minute over the due index (what waits for its next attempt, and
what a delivery left behind). Activities are grouped by user and integration, the integration's
credentials are opened once per group, and they are written in batches of the connector's
`batch_max` (HubSpot 100, Follow Up Boss one by one...):

1. Each batch is claimed first: a conditional write on the activity's version sets a lease (as long
   as the function's timeout), so the stream and the periodic run never deliver one activity at once,
   and an activity whose delivery died comes back from the due index when its lease ends.
2. The write goes through `call_with_retries` (1, 2, 4 s, Retry-After honoured) within the
   integration's rate limit and monitoring (calls, errors and latency in its metrics; a 429 holds its
   budget).
3. Exactly once: a connector whose writes are idempotent (the CRM upserts by the activity id) is
   simply written again. Otherwise every try that may follow a write that landed (an in-call retry;
   an activity attempted before, whose delivery stopped midway, or that the user retried) first
   asks the CRM (`find_written`) which of them it already holds, marks those synced, and writes only
   the others. A connector that cannot be asked (`find_written` answers None) is written again: a
   write that landed but whose answer was lost is then duplicated. That window is one lost answer
   per retry, and the README names the providers it applies to.
4. Outcomes, per activity: written -> `synced` with the CRM's id; `not_found` / `invalid_request`
   (no such client, a value the CRM refuses) -> `failed` at once with the reason; `auth_failed` /
   `invalid_settings` -> `failed` (the user fixes the credentials and retries); anything else is
   transient -> `pending` with one attempt more, the error, and the next attempt by `Backoff`, until
   the retry window is over -> `failed` with `retry_window_exceeded`. A transient failure of the
   whole call holds the rest of the group in that run (recorded as failed attempts with the same
   error), so a CRM that is down costs one call per group, not one per batch.

A record that cannot be read, or an integration that is gone, is not CRM or cannot be opened, never
blocks the stream: the activity fails with the reason, or the record is skipped with a log. An
unexpected error in one group is logged and the run goes on; what it left is still in the due index.
A run stops starting batches after `time_budget`, so the function ends within its timeout; the rest
stays due for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import TidingsError, TooManyRequests
from tidings.core.streams import dispatch_batch
from tidings.core.triggers import PeriodicRun, StreamBatch
from tidings.crm.backoff import Backoff
from tidings.crm.retrying import RetryPolicy, call_with_retries
from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, CrmConnector, WriteResult
from tidings.integrations.connectors.registry import ConnectorRegistry
from tidings.integrations.credentials import IntegrationCredentials
from tidings.integrations.directory import IntegrationDirectory
from tidings.integrations.monitoring import IntegrationMonitoring
from tidings.models.crm import ActivityStatus, PendingActivity
from tidings.models.integrations import Integration, Status
from tidings.store import keys
from tidings.store.activities import PendingActivityRepository, StaleActivity, activity_from_item
from tidings.store.dynamo import deserialize_stream_image, record_of, stream_status

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# A claim holds an activity this long: the crm_sync function's timeout, so a lease always outlives
# the invocation that took it.
LEASE = timedelta(seconds=300)
# No batch starts after this much of a run: one batch with its in-call retries takes at most about
# 4 tries of 10 s plus waits of 1, 2, 4 s (or up to 30 s each for a Retry-After), some 130 s.
TIME_BUDGET = timedelta(seconds=150)
RUN_LIMIT = 1_000  # activities one periodic run takes from the due index
PERMANENT = frozenset({"not_found", "invalid_request"})
CREDENTIALS = frozenset({"auth_failed", "invalid_settings"})


@dataclass
class DeliveryReport:
    activities: int = 0  # handed to the run
    synced: int = 0
    retrying: int = 0  # pending again, with a next attempt
    failed: int = 0
    deferred: int = 0  # held by the integration's rate limit, not attempted
    busy: int = 0  # delivered by someone else meanwhile, or no longer pending
    left: int = 0  # not reached within the run's time: still due
    calls: int = 0  # write calls (with their in-call retries)
    found_written: int = 0  # found in the CRM before writing again, so not written twice
    errors: int = 0  # groups stopped by an unexpected error (logged; still due)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def activity_write(activity: PendingActivity) -> ActivityWrite:
    a = activity.activity
    return ActivityWrite(
        activity_id=activity.activity_id,
        client_id=a.client_id,
        type=a.type,
        description=a.description,
        timestamp=a.timestamp,
        metadata=dict(a.metadata),
    )


def _latest(activities: Iterable[PendingActivity]) -> dict[tuple[str, str], list[PendingActivity]]:
    """The activities by (user, integration), in the order first seen, each id once (its latest
    version)."""
    by_id: dict[tuple[str, str], PendingActivity] = {}
    for activity in activities:
        key = (activity.user_id, activity.activity_id)
        if key not in by_id or by_id[key].version < activity.version:
            by_id[key] = activity
    groups: dict[tuple[str, str], list[PendingActivity]] = {}
    for activity in by_id.values():
        groups.setdefault((activity.user_id, activity.integration_id), []).append(activity)
    return groups


def _chunks(items: Sequence[PendingActivity], size: int) -> list[Sequence[PendingActivity]]:
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class _Written:
    results: dict[str, WriteResult]
    error: ConnectorError | None  # the whole call's failure, after its retries
    found: int  # activities find_written said the CRM already held
    in_doubt: bool  # a try's answer was lost after its request went out: the CRM may hold them


class ActivityDelivery:
    def __init__(
        self,
        *,
        activities: PendingActivityRepository,
        directory: IntegrationDirectory,
        credentials: IntegrationCredentials,
        connectors: ConnectorRegistry,
        monitoring: IntegrationMonitoring,
        clock: Clock = DEFAULT_CLOCK,
        retry_policy: RetryPolicy | None = None,
        backoff: Backoff | None = None,
        lease: timedelta = LEASE,
        time_budget: timedelta = TIME_BUDGET,
        run_limit: int = RUN_LIMIT,
        pool: Executor | None = None,
    ) -> None:
        self.activities = activities
        self.directory = directory
        self.credentials = credentials
        self.connectors = connectors
        self.monitoring = monitoring
        self.clock = clock
        self.retry_policy = retry_policy or RetryPolicy()
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.time_budget = time_budget
        self.run_limit = run_limit
        self.pool = pool  # writes a batch's claims and outcomes side by side (one by one without)
        self.stream = PendingActivityStream(self)

    # -- the crm_sync function's entry point ------------------------------------------------------

    def handle(self, trigger: StreamBatch | PeriodicRun) -> dict[str, Any]:
        if isinstance(trigger, StreamBatch):
            return dispatch_batch(trigger.event(), [self.stream])
        return self.run_due().as_dict()

    def run_due(self) -> DeliveryReport:
        """Deliver what the due index says is due now (at most `run_limit` activities)."""
        due = self.activities.due(self.clock.now(), self.run_limit)
        report = self.deliver(due)
        if report.activities:
            logger.info("CRM activity delivery: %s", report.as_dict())
        return report

    def deliver(self, activities: Sequence[PendingActivity]) -> DeliveryReport:
        started = self.clock.now()
        report = DeliveryReport()
        for (user_id, integration_id), group in _latest(activities).items():
            report.activities += len(group)
            if self._out_of_time(started):
                report.left += len(group)
                continue
            try:
                self._deliver_group(user_id, integration_id, group, report, started)
            except Exception:
                report.errors += 1
                logger.exception(
                    "delivering %d activities of %s to integration %s stopped; they stay due",
                    len(group),
                    user_id,
                    integration_id,
                )
        return report

    # -- one user's integration -------------------------------------------------------------------

    def _deliver_group(
        self,
        user_id: str,
        integration_id: str,
        group: list[PendingActivity],
        report: DeliveryReport,
        started: datetime,
    ) -> None:
        integration = self.directory.repo.get(user_id, integration_id)
        opened = self._open(integration, integration_id)
        if isinstance(opened, ConnectorError):
            self._settle_all(self._claim(group, report), None, opened, report)
            if opened.code in CREDENTIALS and integration is not None:
                self._mark_integration(integration, opened)
            return
        assert integration is not None
        stop, wrote = self._deliver_batches(integration, *opened, group, report, started)
        if not wrote:
            return
        if stop is not None and stop.code in CREDENTIALS:
            self._mark_integration(integration, stop)
        elif stop is None and integration.status == Status.ERROR:
            self._mark_integration(integration, None)  # the credentials work again
        self.monitoring.evaluate(self.directory.repo.get(user_id, integration_id) or integration)

    def _deliver_batches(
        self,
        integration: Integration,
        connector: CrmConnector,
        creds: ConnectorCredentials,
        group: list[PendingActivity],
        report: DeliveryReport,
        started: datetime,
    ) -> tuple[ConnectorError | None, bool]:
        """Claim and write the group batch by batch: the whole call's failure that held the rest of
        the group (None when none did), and whether any write was made."""
        stop: ConnectorError | None = None  # a transient failure of the whole call: the rest waits
        held: TooManyRequests | None = None  # the integration's own rate limit is used up
        wrote = False
        for batch in _chunks(group, connector.batch_max):
            if self._out_of_time(started):
                report.left += len(batch)
                continue
            claimed = self._claim(batch, report)
            if not claimed:
                continue
            if held is None and stop is None:
                try:
                    self.monitoring.admit(integration)
                except TooManyRequests as exc:
                    held = exc
            if held is not None:
                self._defer(claimed, held, report)
            elif stop is not None:
                self._settle_all(claimed, None, stop, report)
            else:
                written = self._write(integration, connector, creds, claimed)
                wrote = True
                report.calls += 1
                report.found_written += written.found
                self._settle_all(claimed, written.results, written.error, report, in_doubt=written.in_doubt)
                if written.error is not None and written.error.code not in PERMANENT:
                    stop = written.error
        return stop, wrote

    def _open(
        self, integration: Integration | None, integration_id: str
    ) -> tuple[CrmConnector, ConnectorCredentials] | ConnectorError:
        """The integration's CRM connector and opened credentials, or why its activities fail."""
        if integration is None:
            return ConnectorError("integration_not_found", f"integration {integration_id} no longer exists")
        if integration.type != "crm":
            return ConnectorError("integration_not_crm", f"integration {integration_id} is not a CRM")
        if integration.status == Status.DISCONNECTED:
            return ConnectorError(
                "integration_disconnected", f"integration {integration_id} is disconnected; connect it first"
            )
        if not self.connectors.serves(integration.type, integration.provider):
            return ConnectorError("crm_not_supported", f"no connector for {integration.provider}")
        connector = self.connectors.for_integration(integration)
        if not isinstance(connector, CrmConnector):
            return ConnectorError("crm_not_supported", f"{integration.provider} cannot take activities")
        try:
            creds = self.credentials.open(integration)
        except ConnectorError as exc:
            return exc
        except TidingsError as exc:
            return ConnectorError(exc.code, exc.message)
        return connector, creds

    def _mark_integration(self, integration: Integration, error: ConnectorError | None) -> None:
        try:
            self.directory.settle(integration, error=error)
        except TidingsError as exc:
            logger.warning("integration %s not updated: %s", integration.integration_id, exc.code)

    # -- claims, writes and outcomes --------------------------------------------------------------

    def _out_of_time(self, started: datetime) -> bool:
        return self.clock.now() - started >= self.time_budget

    def _each(self, action: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`action` on each item, side by side on the pool when there is one (one table write each)."""
        if self.pool is None or len(items) < 2:
            return [action(item) for item in items]
        return list(self.pool.map(action, items))

    def _claim(
        self, batch: Sequence[PendingActivity], report: DeliveryReport
    ) -> list[tuple[PendingActivity, PendingActivity]]:
        """(as read, as claimed) for each activity this delivery now holds."""
        now = self.clock.now()
        claims = self._each(lambda activity: self.activities.claim(activity, now, now + self.lease), batch)
        held = [(read, claimed) for read, claimed in zip(batch, claims, strict=True) if claimed is not None]
        report.busy += len(batch) - len(held)
        return held

    def _write(
        self,
        integration: Integration,
        connector: CrmConnector,
        creds: ConnectorCredentials,
        claimed: list[tuple[PendingActivity, PendingActivity]],
    ) -> _Written:
        writes = {held.activity_id: activity_write(held) for _, held in claimed}
        suspect = {read.activity_id for read, _ in claimed if read.may_be_in_crm}
        results: dict[str, WriteResult] = {}
        found = 0
        in_doubt = False

        def attempt(previous: ConnectorError | None, observe: CallObserver) -> None:
            nonlocal found, in_doubt
            remaining = [w for key, w in writes.items() if key not in results]
            if not connector.idempotent_writes:
                # after a try whose answer was lost, or for activities an earlier delivery may have
                # written; a try that failed for sure (a 503, a 429) wrote nothing to look for
                ask = remaining if in_doubt else [w for w in remaining if w.activity_id in suspect]
                held = connector.find_written(creds, ask, observe) if ask else None
                for key, crm_id in (held or {}).items():
                    if key in writes and key not in results:
                        results[key] = WriteResult(key, crm_id)
                        found += 1
                remaining = [w for w in remaining if w.activity_id not in results]
            if not remaining:
                return
            try:
                written = connector.write_activities(creds, remaining, observe)
            except ConnectorError as exc:
                in_doubt = in_doubt or exc.outcome_unknown
                raise
            for result in written:
                if result.activity_id in writes:
                    results[result.activity_id] = result

        def with_retries(observe: CallObserver) -> None:
            call_with_retries(
                lambda previous: attempt(previous, observe),
                self.retry_policy,
                self.clock,
                on_retry=_log_retry(integration),
            )

        measured = self.monitoring.measure(integration, with_retries)
        return _Written(results, measured.error, found, in_doubt)

    def _settle_all(
        self,
        claimed: list[tuple[PendingActivity, PendingActivity]],
        results: dict[str, WriteResult] | None,
        error: ConnectorError | None,
        report: DeliveryReport,
        *,
        in_doubt: bool = False,
    ) -> None:
        def settle(held: PendingActivity) -> str:
            try:
                return self._settle(held, (results or {}).get(held.activity_id), error, in_doubt)
            except StaleActivity:
                # the lease outlives the invocation: another delivery came after a very long stall
                logger.warning("activity %s changed while it was being delivered", held.activity_id)
                return "busy"

        _count(report, self._each(settle, [held for _, held in claimed]))

    def _settle(
        self,
        held: PendingActivity,
        result: WriteResult | None,
        call_error: ConnectorError | None,
        in_doubt: bool = False,
    ) -> str:
        """Record the outcome of one activity's attempt; which count of the report it adds to."""
        now = self.clock.now()
        if result is not None and result.ok:
            self.activities.mark_synced(held, result.crm_id, now)
            return "synced"
        error = (result.error if result is not None else None) or call_error
        if error is None:
            error = ConnectorError("unexpected_response", "the CRM's answer did not mention this activity")
        if error.code in PERMANENT or error.code in CREDENTIALS or not _transient(error):
            self.activities.mark_failed(held, now, error_code=error.code, error=error.message)
            return "failed"
        next_at = self.backoff.next_attempt(held, now, error.retry_after)
        if next_at is None:
            days = self.backoff.window / timedelta(days=1)
            reason = f"still failing after {days:g} days of retries; last error {error.code}: {error.message}"
            self.activities.mark_failed(held, now, error_code="retry_window_exceeded", error=reason)
            return "failed"
        self.activities.mark_pending(
            held,
            now,
            next_attempt_at=next_at,
            error_code=error.code,
            error=error.message,
            in_doubt=in_doubt and result is None,  # a per-record answer says what became of it
        )
        return "retrying"

    def _defer(
        self,
        claimed: list[tuple[PendingActivity, PendingActivity]],
        refused: TooManyRequests,
        report: DeliveryReport,
    ) -> None:
        """Back to the due index until the integration's budget allows a call; no attempt is counted."""
        now = self.clock.now()
        seconds = refused.details.get("retryAfterSeconds")
        until = now + timedelta(seconds=float(seconds) if isinstance(seconds, int | float) else 60.0)

        def defer(held: PendingActivity) -> str:
            try:
                self.activities.mark_pending(
                    held,
                    now,
                    next_attempt_at=until,
                    error_code=held.last_error_code,
                    error=held.last_error,
                    attempted=False,
                )
            except StaleActivity:
                return "busy"
            return "deferred"

        _count(report, self._each(defer, [held for _, held in claimed]))


def _count(report: DeliveryReport, outcomes: Iterable[str]) -> None:
    for name in outcomes:
        setattr(report, name, getattr(report, name) + 1)


# Codes of failures that pass: the CRM did not answer or asked to slow down, or answered something
# unexpected (the write may have landed: the next try asks first).
_TRANSIENT = frozenset({"rate_limited", "unreachable", "unexpected_response"})


def _transient(error: ConnectorError) -> bool:
    return error.retryable or error.code in _TRANSIENT


def _log_retry(integration: Integration) -> Callable[[int, ConnectorError, float], None]:
    def log(retry: int, error: ConnectorError, seconds: float) -> None:
        logger.info(
            "%s write for integration %s: %s (%s); retry %d in %.1f s",
            integration.provider,
            integration.integration_id,
            error.code,
            "outcome unknown" if error.outcome_unknown else "not applied",
            retry + 1,
            seconds,
        )

    return log


class PendingActivityStream:
    """A StreamConsumer (tidings.core.streams): an activity just recorded, or a failed one retried
    (failed -> pending), is delivered at the end of the batch, per user and integration. Delivering
    again what is no longer pending changes nothing (the claim refuses it)."""

    def __init__(self, delivery: ActivityDelivery) -> None:
        self.delivery = delivery

    def wants(self, record: dict[str, Any]) -> bool:
        if stream_status(record, "NewImage") != ActivityStatus.PENDING:
            return False
        if not record_of(record, keys.PENDING_ACTIVITY_ENTITY):
            return False
        event = record.get("eventName")
        return event == "INSERT" or (
            event == "MODIFY" and stream_status(record, "OldImage") == ActivityStatus.FAILED
        )

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        try:
            activity = activity_from_item(deserialize_stream_image(record["dynamodb"]["NewImage"]))
        except (KeyError, TypeError, ValueError) as exc:
            keys_of = record.get("dynamodb", {}).get("Keys", {})
            logger.error("skipped a pending activity record that cannot be read (%s): %s", exc, keys_of)
            return
        deferred.append(activity)

    def flush(self, deferred: list[Any]) -> None:
        report = self.delivery.deliver(deferred)
        logger.info("CRM activities from the stream: %s", report.as_dict())
