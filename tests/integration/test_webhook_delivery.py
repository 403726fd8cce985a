"""Outgoing webhooks on DynamoDB Local and moto's KMS, delivered to a real HTTP receiver on this
machine: signed, once per event and webhook, retried with back-off, logged, and never sent to a
webhook that does not subscribe or belongs to another user."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from infra.local.provision import LocalStack
from tidings.aws.vault import CredentialVault
from tidings.core.clock import FakeClock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.platforms import Platform
from tidings.core.signing import verify
from tidings.models.posts import PlatformError, PlatformResult, PlatformStatus, PostStatus, ScheduledPost
from tidings.store import keys
from tidings.store.dynamo import serialize
from tidings.store.posts import post_to_item
from tidings.store.webhooks import DeliveryStatus, DynamoDeliveryRepository, DynamoWebhookRepository
from tidings.webhooks.delivery import LEASE, WebhookDeliverer
from tidings.webhooks.service import WebhookService

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """An HTTP endpoint that records what it received and answers the statuses it is told to."""

    answers: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tidings"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def user() -> str:
    return f"agent-{uuid.uuid4().hex[:8]}"


@dataclass
class Parts:
    hooks: DynamoWebhookRepository
    deliveries: DynamoDeliveryRepository
    deliverer: WebhookDeliverer
    service: WebhookService


@pytest.fixture
def parts(local_stack: LocalStack, clock: FakeClock) -> Iterator[Parts]:
    ddb = local_stack.client("dynamodb")
    vault = CredentialVault(local_stack.credentials_key_arn, local_stack.client("kms"))
    hooks = DynamoWebhookRepository(local_stack.table_name, vault, ddb, clock)
    deliveries = DynamoDeliveryRepository(local_stack.table_name, ddb)
    http = httpx.Client(timeout=2.0)
    deliverer = WebhookDeliverer(
        hooks, deliveries, http, clock, retry_intervals=[60, 300], allow_private=True
    )
    yield Parts(
        hooks, deliveries, deliverer, WebhookService(hooks, deliveries, deliverer, clock, allow_private=True)
    )
    http.close()


def _post(user: str, status: PostStatus, *, failed: bool = False) -> ScheduledPost:
    results = {
        Platform.FACEBOOK: PlatformResult(
            platform=Platform.FACEBOOK,
            status=PlatformStatus.PUBLISHED,
            platform_post_id="1234_5678",
            url="https://www.facebook.com/1234_5678",
            attempts=1,
            published_at=NOW,
        )
    }
    if failed:
        results[Platform.TWITTER] = PlatformResult(
            platform=Platform.TWITTER,
            status=PlatformStatus.FAILED,
            attempts=4,
            last_error=PlatformError(kind="retryable", code="503", message="Service Unavailable"),
        )
    return ScheduledPost(
        user_id=user,
        post_id="p-" + uuid.uuid4().hex[:10],
        content="Open house Saturday at 12 Elm St",
        platforms=list(results),
        scheduled_time=NOW,
        status=status,
        version=2,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
        completed_at=NOW,
        results=results,
    )


def _record(post: ScheduledPost, old_status: PostStatus = PostStatus.PUBLISHING) -> dict[str, Any]:
    new = post_to_item(post, 8)
    old = post_to_item(post.model_copy(update={"status": old_status}), 8)
    return {
        "eventName": "MODIFY",
        "dynamodb": {
            "SequenceNumber": uuid.uuid4().hex,
            "NewImage": serialize(new),
            "OldImage": serialize(old),
        },
    }


def _deliveries(parts: Parts, user: str, webhook_id: str) -> list[Any]:
    found, _ = parts.deliveries.page(user, webhook_id, 100, None)
    return found


def test_registration_returns_the_secret_once_and_stores_it_sealed(
    parts: Parts, local_stack: LocalStack, receiver: Receiver, user: str
) -> None:
    created = parts.service.create(user, receiver.url, ["post.published"], "CRM bridge")

    assert created.secret.startswith("whsec_")
    assert len(created.secret) > 40
    raw = local_stack.client("dynamodb").get_item(
        TableName=local_stack.table_name,
        Key=serialize({"PK": keys.user_pk(user), "SK": keys.webhook_sk(created.webhook.webhook_id)}),
    )["Item"]
    assert created.secret not in json.dumps(raw, default=str)
    listed = parts.service.for_user(user)
    assert [h.webhook_id for h in listed] == [created.webhook.webhook_id]
    assert created.secret not in repr(listed)
    assert listed[0].secret_hint.endswith(created.secret[-4:])
    assert [e.action for e in parts.hooks.audit.page(user, 10, None)[0]] == ["webhook.created"]


def test_a_published_post_reaches_each_subscriber_once_signed(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published", "post.failed"], None)
    other_user_hook = parts.service.create("someone-else-" + user, receiver.url, ["post.published"], None)
    not_subscribed = parts.service.create(user, receiver.url, ["workflow.completed"], None)
    record = _record(_post(user, PostStatus.PUBLISHED))

    assert parts.deliverer.handle_batch({"Records": [record]}) == {"batchItemFailures": []}
    assert parts.deliverer.handle_batch({"Records": [record]}) == {"batchItemFailures": []}  # again

    assert len(receiver.received) == 1
    got = receiver.received[0]
    payload = json.loads(got["body"])
    assert payload["type"] == "post.published"
    assert payload["data"]["platforms"][0]["platformPostId"] == "1234_5678"
    assert got["headers"]["Tidings-Event-Id"] == payload["id"]
    assert got["headers"]["Tidings-Event-Type"] == "post.published"
    assert verify(hook.secret, got["headers"]["Tidings-Signature"], got["body"], clock.now().timestamp())
    assert not verify(
        other_user_hook.secret, got["headers"]["Tidings-Signature"], got["body"], NOW.timestamp()
    )
    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert _deliveries(parts, user, not_subscribed.webhook.webhook_id) == []


def test_a_partly_published_post_gives_a_published_and_a_failed_event(
    parts: Parts, receiver: Receiver, user: str
) -> None:
    parts.service.create(user, receiver.url, ["post.published", "post.failed"], None)

    parts.deliverer.handle_batch(
        {"Records": [_record(_post(user, PostStatus.PARTIALLY_PUBLISHED, failed=True))]}
    )

    by_type = {json.loads(r["body"])["type"]: json.loads(r["body"]) for r in receiver.received}
    assert set(by_type) == {"post.published", "post.failed"}
    failed = by_type["post.failed"]["data"]["platforms"]
    assert failed == [
        {"platform": "twitter", "attempts": 4, "error": {"code": "503", "message": "Service Unavailable"}}
    ]


def test_failed_deliveries_are_retried_with_back_off_then_given_up(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    receiver.answers = [500, 503, 502]
    parts.deliverer.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED))]})
    (first,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert (first.status, first.attempts, first.next_attempt_at) == (
        "retrying",
        1,
        NOW + timedelta(seconds=60),
    )

    clock.advance(timedelta(seconds=59))
    parts.deliverer.retry_due()
    assert len(receiver.received) == 1  # not due yet
    clock.advance(timedelta(seconds=1))
    parts.deliverer.retry_due()
    clock.advance(timedelta(seconds=300))
    parts.deliverer.retry_due()
    clock.advance(timedelta(days=1))
    parts.deliverer.retry_due()  # nothing is due any more

    assert len(receiver.received) == 3
    (last,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert (last.status, last.attempts, last.next_attempt_at) == ("failed", 3, None)
    assert [h["statusCode"] for h in last.history] == [500, 503, 502]
    ids = {r["headers"]["Tidings-Event-Id"] for r in receiver.received}
    bodies = {r["body"] for r in receiver.received}
    assert len(ids) == 1
    assert len(bodies) == 1


def test_a_retry_that_succeeds_is_logged_as_delivered(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    receiver.answers = [429]
    parts.deliverer.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED))]})
    clock.advance(timedelta(seconds=60))

    report = parts.deliverer.retry_due()

    assert report["delivered"] >= 1
    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("delivered", 2, clock.now())


def test_a_delivery_abandoned_mid_attempt_is_sent_when_its_lease_ends(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    from tidings.webhooks.events import events_from_record

    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    (event,) = events_from_record(_record(_post(user, PostStatus.PUBLISHED)))
    assert len(parts.deliverer.fan_out(event)) == 1  # created and claimed, then the sender "died"
    assert parts.deliverer.fan_out(event) == []  # the event seen again creates nothing

    parts.deliverer.retry_due()
    assert receiver.received == []  # the lease still holds
    clock.advance(LEASE)
    parts.deliverer.retry_due()

    assert len(receiver.received) == 1
    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert delivery.status == DeliveryStatus.DELIVERED


def test_deleting_a_webhook_stops_its_retries(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    receiver.answers = [500]
    parts.deliverer.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED))]})

    parts.service.delete(user, hook.webhook.webhook_id)
    clock.advance(timedelta(minutes=2))
    parts.deliverer.retry_due()

    assert len(receiver.received) == 1
    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert (delivery.status, delivery.last_error) == ("failed", "the webhook was deleted")
    with pytest.raises(NotFound):
        parts.service.get(user, hook.webhook.webhook_id)


def test_the_test_ping_is_signed_and_reports_the_answer(parts: Parts, receiver: Receiver, user: str) -> None:
    hook = parts.service.create(user, receiver.url, ["alert.raised"], None)
    receiver.answers = [404]

    result = parts.service.test(user, hook.webhook.webhook_id)

    assert (result.outcome.delivered, result.outcome.status_code) == (False, 404)
    got = receiver.received[0]
    assert json.loads(got["body"])["type"] == "webhook.ping"
    assert verify(hook.secret, got["headers"]["Tidings-Signature"], got["body"], NOW.timestamp())


def test_another_users_webhook_is_not_found(parts: Parts, receiver: Receiver, user: str) -> None:
    hook = parts.service.create(user, receiver.url, ["post.failed"], None)

    for call in (parts.service.get, parts.service.delete, parts.service.test):
        with pytest.raises(NotFound):
            call("intruder-" + user, hook.webhook.webhook_id)
    with pytest.raises(NotFound):
        parts.service.deliveries_page("intruder-" + user, hook.webhook.webhook_id, 10, None)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/x", "url_refused"),
        ("https://10.0.0.7/hook", "url_refused"),
        ("https://169.254.169.254/latest/meta-data", "url_refused"),
        ("https://[::1]/hook", "url_refused"),
        ("https://internal.example.com/hook", "url_refused"),
        ("https://nowhere.example.com/hook", "host_not_found"),
        ("ftp://hooks.example.com/x", "invalid_url"),
    ],
)
def test_registration_refuses_urls_that_are_not_public_https(
    parts: Parts, user: str, url: str, code: str
) -> None:
    dns = {"internal.example.com": ["192.168.1.20"], "hooks.example.com": ["93.184.215.14"]}

    def resolve(host: str) -> list[str]:
        if host not in dns:
            raise OSError("not found")
        return dns[host]

    strict = WebhookService(
        parts.hooks, parts.deliveries, parts.deliverer, FakeClock(NOW), allow_private=False, resolve=resolve
    )
    with pytest.raises(ValidationFailed) as caught:
        strict.create(user, url, ["post.published"], None)
    assert caught.value.code == code
    assert parts.service.for_user(user) == []


def test_a_host_that_moved_to_a_private_address_is_not_called(
    parts: Parts, receiver: Receiver, user: str
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    strict = WebhookDeliverer(
        parts.hooks,
        parts.deliveries,
        parts.deliverer.http,
        parts.deliverer.clock,
        retry_intervals=[60],
        allow_private=False,
    )

    strict.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED))]})

    assert receiver.received == []
    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert delivery.status == "retrying"
    assert delivery.last_error.startswith("url_refused")


def test_unknown_events_are_refused(parts: Parts, receiver: Receiver, user: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parts.service.create(user, receiver.url, ["post.published", "post.exploded"], None)
    assert caught.value.code == "invalid_events"
    assert caught.value.details["unknown"] == ["post.exploded"]


def test_deliveries_are_listed_newest_first_in_pages(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    for _ in range(3):
        parts.deliverer.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED))]})
        clock.advance(timedelta(seconds=1))

    first, token = parts.service.deliveries_page(user, hook.webhook.webhook_id, 2, None)
    rest, end = parts.service.deliveries_page(user, hook.webhook.webhook_id, 2, token)

    times = [d.created_at for d in first + rest]
    assert len(times) == 3
    assert times == sorted(times, reverse=True)
    assert end is None


def test_a_webhook_registered_just_before_an_event_receives_it(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    early = _post(user, PostStatus.PUBLISHED)
    clock.advance(timedelta(minutes=5))
    parts.deliverer.handle_batch({"Records": [_record(early)]})  # the user's (empty) list is read now
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    clock.advance(timedelta(seconds=1))

    later = _post(user, PostStatus.PUBLISHED).model_copy(update={"completed_at": clock.now()})
    parts.deliverer.handle_batch({"Records": [_record(later)]})

    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0]["body"])["data"]["postId"] == later.post_id
    assert len(_deliveries(parts, user, hook.webhook.webhook_id)) == 1


def test_a_busy_stream_reads_a_users_webhooks_once_for_events_that_came_before(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    parts.service.create(user, receiver.url, ["post.published"], None)
    clock.advance(timedelta(minutes=1))
    reads: list[str] = []
    real = parts.hooks.for_user
    parts.hooks.for_user = lambda u: (reads.append(u), real(u))[1]  # type: ignore[method-assign]

    parts.deliverer.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED)) for _ in range(5)]})

    assert len(receiver.received) == 5
    assert reads == [user]


def test_a_delivery_stored_with_a_lone_surrogate_is_sent_mended_and_its_log_still_reads(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    body = '{"type":"post.published","data":{"content":"caf\ud800 open house"}}'
    parts.deliveries.create(
        user, hook.webhook.webhook_id, "evt-1", "post.published", body, NOW, NOW + LEASE
    )  # as it was stored before bodies were mended; its sender then died
    clock.advance(LEASE)

    assert parts.deliverer.retry_due()["delivered"] == 1
    (sent,) = receiver.received
    assert json.loads(sent["body"])["data"]["content"] == "caf\ufffd open house"
    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert delivery.status == DeliveryStatus.DELIVERED


class _Broken:
    def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
        raise RuntimeError("the client broke")


def test_a_delivery_that_cannot_be_attempted_is_retried_then_failed_with_the_reason(
    parts: Parts, receiver: Receiver, user: str, clock: FakeClock
) -> None:
    hook = parts.service.create(user, receiver.url, ["post.published"], None)
    broken = WebhookDeliverer(
        parts.hooks,
        parts.deliveries,
        _Broken(),  # type: ignore[arg-type]
        clock,
        retry_intervals=[60],
        allow_private=True,
    )
    broken.handle_batch({"Records": [_record(_post(user, PostStatus.PUBLISHED))]})
    clock.advance(timedelta(seconds=60))
    broken.retry_due()
    clock.advance(timedelta(days=1))
    broken.retry_due()  # it does not come back with every lease

    (delivery,) = _deliveries(parts, user, hook.webhook.webhook_id)
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert [h["error"] for h in delivery.history] == ["internal error (RuntimeError: the client broke)"] * 2
