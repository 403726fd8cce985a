"""Delivering events to webhooks: fan-out from the stream, signed POSTs, retries with back-off.

- An event reaches every webhook of its user that subscribes to its type: one delivery each,
  created at most once per (webhook, event) and claimed for sending in the same write.
- Each attempt POSTs the same body with `Tidings-Event-Id`, `Tidings-Event-Type` and a fresh
  `Tidings-Signature` (t=<now>). A 2xx answer is delivery; anything else, or no answer within the
  timeout, is retried after the `webhook_retry_intervals` (default 1, 5, 30 minutes, 2 and 6 hours),
  then the delivery is failed. Redirects are not followed.
- The URL is checked again before each attempt (https, public addresses only), so a host that has
  moved to a private address since registration is refused, not called; the POST goes through the
  guarded client (`tidings.core.fetch`), which connects only to the address it checked.
- A delivery whose sender died mid-attempt comes back from the due index when its lease ends, so
  delivery is at least once: receivers drop repeats by `Tidings-Event-Id`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tidings import __version__
from tidings.core.clock import Clock, iso_ms
from tidings.core.netguard import Resolver, outbound_url_problem
from tidings.core.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from tidings.core.text import mend
from tidings.core.triggers import PeriodicRun, StreamBatch
from tidings.store.webhooks import Delivery, DeliveryRepository, DeliveryStatus, Webhook, WebhookRepository
from tidings.webhooks.events import Event, events_from_record, is_event_source

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)  # longer than one attempt can take
MAX_PARALLEL = 8
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class AttemptOutcome:
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def body_of(event: Event) -> str:
    return mend(json.dumps(event.envelope(), ensure_ascii=False, separators=(",", ":"), default=str))


class WebhookDeliverer:
    def __init__(
        self,
        hooks: WebhookRepository,
        deliveries: DeliveryRepository,
        http: httpx.Client,
        clock: Clock,
        *,
        retry_intervals: list[int],
        allow_private: bool,
        resolve: Resolver | None = None,
        on_record: Callable[[Mapping[str, Any], list[Event]], object] | None = None,
    ) -> None:
        self.hooks = hooks
        self.deliveries = deliveries
        self.http = http
        self.clock = clock
        self.retry_intervals = retry_intervals
        self.allow_private = allow_private
        self.resolve = resolve
        self.on_record = on_record  # e.g. alert e-mails: each record with the events read from it

    def handle(self, trigger: StreamBatch | PeriodicRun) -> dict[str, Any]:
        """The event_delivery function's one entry point: events from a stream batch, or a pass over
        the deliveries whose retry is due."""
        if isinstance(trigger, StreamBatch):
            return self.handle_batch(trigger.event())
        report = self.retry_due()
        logger.info("webhook retry pass", extra=report)
        return report

    # -- from the stream ------------------------------------------------------------------------

    def handle_batch(self, event: dict[str, Any]) -> dict[str, Any]:
        """The stream consumer: partial batch failures, like the schedule consumer (a record whose
        deliveries could not be created is retried from its sequence number; creating is idempotent)."""
        created: list[Delivery] = []
        for record in event.get("Records", []):
            if not is_event_source(record):
                continue
            try:
                events = events_from_record(record)
                for outgoing in events:
                    created += self.fan_out(outgoing)
                if self.on_record is not None:
                    self.on_record(record, events)
            except Exception:
                sequence = record.get("dynamodb", {}).get("SequenceNumber", "")
                logger.exception("stream record %s failed; it will be retried", sequence)
                self.send_all(created)
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        self.send_all(created)
        return {"batchItemFailures": []}

    def fan_out(self, event: Event) -> list[Delivery]:
        """One delivery per subscribed webhook (none twice), claimed for sending now."""
        now = self.clock.now()
        body = body_of(event)
        created = []
        for hook in self.hooks.subscribers(event.user_id, str(event.type), event.occurred_at):
            delivery = self.deliveries.create(
                event.user_id, hook.webhook_id, event.event_id, str(event.type), body, now, now + LEASE
            )
            if delivery is not None:
                created.append(delivery)
        return created

    # -- sending --------------------------------------------------------------------------------

    def send_all(self, deliveries: Iterable[Delivery]) -> list[Delivery]:
        batch = list(deliveries)
        if len(batch) <= 1:
            return [self.send(d) for d in batch]
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(batch))) as pool:
            return list(pool.map(self.send, batch))

    def send(self, delivery: Delivery) -> Delivery:
        """One attempt of a claimed delivery, recorded with its outcome and the next step."""
        target = self.hooks.signing_target(delivery.user_id, delivery.webhook_id)
        if target is None:
            outcome = AttemptOutcome(False, None, "the webhook was deleted", 0)
            return self._record(delivery, outcome, final=True)
        hook, secret = target
        try:
            outcome = self.attempt(hook, secret, delivery.event_id, delivery.event_type, delivery.body)
        except Exception as exc:
            # One bad delivery neither stops the others nor comes back with every lease: it is an
            # attempt that failed, with the reason, retried like any other and then failed for good.
            logger.exception("webhook delivery %s could not be attempted", delivery.event_id)
            outcome = AttemptOutcome(False, None, f"internal error ({type(exc).__name__}: {exc})", 0)
        return self._record(delivery, outcome, final=False)

    def attempt(
        self, hook: Webhook, secret: str, event_id: str, event_type: str, body: str
    ) -> AttemptOutcome:
        from tidings.core.fetch import FETCH_ERRORS, failure

        url = hook.url
        refused = outbound_url_problem(url, allow_private=self.allow_private, resolve=self.resolve)
        if refused is not None:
            return AttemptOutcome(False, None, f"{refused[0]}: {refused[1]}", 0)
        raw = mend(body).encode()  # a body stored before lone surrogates were mended
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"tidings-webhooks/{__version__}",
            EVENT_ID_HEADER: event_id,
            EVENT_TYPE_HEADER: event_type,
            SIGNATURE_HEADER: signature_header(secret, int(self.clock.now().timestamp()), raw),
        }
        started = time.monotonic()
        try:
            response = self.http.post(url, content=raw, headers=headers, follow_redirects=False)
        except FETCH_ERRORS as exc:  # the same words whatever the OS said (tidings.core.fetch)
            code, message = failure(exc)
            return AttemptOutcome(False, None, f"{code}: {message}", _ms(started))
        status = response.status_code
        if 200 <= status < 300:
            return AttemptOutcome(True, status, None, _ms(started))
        return AttemptOutcome(False, status, f"answered {status}", _ms(started))

    def _record(self, delivery: Delivery, outcome: AttemptOutcome, *, final: bool) -> Delivery:
        now = self.clock.now()
        attempt = {
            "at": iso_ms(now),
            "statusCode": outcome.status_code,
            "error": (outcome.error or "")[:MAX_ERROR_CHARS] or None,
            "durationMs": outcome.duration_ms,
        }
        attempts_made = delivery.attempts + 1
        if outcome.delivered:
            status, next_at = DeliveryStatus.DELIVERED, None
        elif final or attempts_made > len(self.retry_intervals):
            status, next_at = DeliveryStatus.FAILED, None
        else:
            status = DeliveryStatus.RETRYING
            next_at = now + timedelta(seconds=self.retry_intervals[attempts_made - 1])
        recorded = self.deliveries.record_attempt(delivery, attempt, status=status, next_attempt_at=next_at)
        if status == DeliveryStatus.FAILED:
            logger.warning(
                "webhook delivery failed for good",
                extra={
                    "webhookId": delivery.webhook_id,
                    "eventId": delivery.event_id,
                    "attempts": attempts_made,
                },
            )
        return recorded

    # -- the retry pass -------------------------------------------------------------------------

    def retry_due(self, limit: int = 100) -> dict[str, int]:
        """Sends every delivery whose retry time (or abandoned lease) has come."""
        now = self.clock.now()
        claimed = [d for d in self.deliveries.due(now, limit) if self.deliveries.claim(d, now + LEASE)]
        done = self.send_all(claimed)
        return {
            "due": len(claimed),
            "delivered": sum(1 for d in done if d.status == DeliveryStatus.DELIVERED),
            "retrying": sum(1 for d in done if d.status == DeliveryStatus.RETRYING),
            "failed": sum(1 for d in done if d.status == DeliveryStatus.FAILED),
        }


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
