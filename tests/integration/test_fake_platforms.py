"""The local fake platform server itself: its fault spec, its own endpoints, how each fault behaves
on the wire, reproducibility with a seed, concurrency, and running as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from infra.local.fakes.base import FaultKind
from infra.local.fakes.platforms import FakePlatformServer, client_env_for
from infra.local.fakes.state import Fault, FaultSpec, FaultSpecError
from tidings.core.platforms import Platform

ROOT = Path(__file__).resolve().parents[2]
PAGE, PAGE_TOKEN = "104710000009", "page-token-9"
X_USER, X_TOKEN = "2244994999", "x-token-9"


@pytest.fixture
def fake() -> Iterator[FakePlatformServer]:
    server = FakePlatformServer(hold_seconds=2.0)
    server.start()
    server.register_account(Platform.FACEBOOK, PAGE, PAGE_TOKEN)
    server.register_account(Platform.TWITTER, X_USER, X_TOKEN)
    try:
        yield server
    finally:
        server.stop()


def post_to_page(http: httpx.Client, fake: FakePlatformServer, message: str) -> httpx.Response:
    return http.post(
        f"{fake.url}/facebook/v23.0/{PAGE}/feed",
        data={"message": message},
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
    )


def tweet(http: httpx.Client, fake: FakePlatformServer, text: str) -> httpx.Response:
    return http.post(
        f"{fake.url}/x/2/tweets", json={"text": text}, headers={"Authorization": f"Bearer {X_TOKEN}"}
    )


# -- the fault spec --------------------------------------------------------------------------------


def test_a_fault_spec_lists_platform_kind_and_rate() -> None:
    spec = FaultSpec.parse("facebook:error500:0.3, twitter:lost_response:0.2,x:timeout:1,all:rate_limit:0")
    assert spec.faults == (
        Fault(Platform.FACEBOOK, FaultKind.ERROR500, 0.3),
        Fault(Platform.TWITTER, FaultKind.LOST_RESPONSE, 0.2),
        Fault(Platform.TWITTER, FaultKind.TIMEOUT, 1.0),
        Fault(None, FaultKind.RATE_LIMIT, 0.0),
    )
    assert [f.kind for f in spec.for_platform(Platform.TWITTER)] == ["lost_response", "timeout", "rate_limit"]
    assert FaultSpec.parse("").faults == ()
    assert FaultSpec.parse(None).faults == ()
    assert FaultSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("myspace:error500:0.1", "unknown platform 'myspace'"),
        ("facebook:explode:0.1", "unknown kind 'explode'"),
        ("facebook:error500:1.5", "outside 0..1"),
        ("facebook:error500:-0.1", "outside 0..1"),
        ("facebook:error500:often", "not a number"),
        ("facebook:error500", "expected platform:kind:rate"),
        ("facebook:error500:0.1:extra", "expected platform:kind:rate"),
    ],
)
def test_a_malformed_fault_spec_is_refused_with_the_reason(spec: str, complaint: str) -> None:
    with pytest.raises(FaultSpecError, match=complaint.replace("(", r"\(").replace(".", r"\.")):
        FaultSpec.parse(spec)


# -- the fake's own endpoints ----------------------------------------------------------------------


def test_accounts_register_over_http_and_tokens_are_never_listed(fake: FakePlatformServer) -> None:
    with httpx.Client() as http:
        created = http.post(
            f"{fake.url}/_accounts",
            json={"platform": "linkedin", "accountId": "urn:li:person:42", "accessToken": "li-secret-42"},
        )
        assert created.status_code == 201
        assert created.json() == {"platform": "linkedin", "accountId": "urn:li:person:42"}
        listed = http.get(f"{fake.url}/_accounts")
        assert {"platform": "linkedin", "accountId": "urn:li:person:42"} in listed.json()
        assert "li-secret-42" not in listed.text
        refused = http.post(
            f"{fake.url}/_accounts", json={"platform": "myspace", "accountId": "a", "accessToken": "t"}
        )
        assert refused.status_code == 400


def test_received_lists_applied_publishes_in_order_and_can_be_cleared(fake: FakePlatformServer) -> None:
    with httpx.Client() as http:
        first = post_to_page(http, fake, "first").json()["id"]
        second = tweet(http, fake, "second").json()["data"]["id"]
        entries = http.get(f"{fake.url}/_received").json()
        assert [(e["platform"], e["accountId"], e["text"], e["postId"]) for e in entries] == [
            ("facebook", PAGE, "first", first),
            ("twitter", X_USER, "second", second),
        ]
        assert all(e["receivedAt"].endswith("Z") and len(e["receivedAt"]) == 24 for e in entries)
        assert [e["text"] for e in http.get(f"{fake.url}/_received", params={"platform": "x"}).json()] == [
            "second"
        ]
        assert http.delete(f"{fake.url}/_received").status_code == 204
        assert http.get(f"{fake.url}/_received").json() == []


def test_faults_can_be_replaced_over_http(fake: FakePlatformServer) -> None:
    with httpx.Client() as http:
        set_ = http.post(f"{fake.url}/_faults", json={"faults": "facebook:error500:1", "seed": 4})
        assert set_.json() == {"faults": "facebook:error500:1", "seed": 4}
        assert post_to_page(http, fake, "hello").status_code == 500
        assert http.post(f"{fake.url}/_faults", json={"faults": "facebook:boom:1"}).status_code == 400
        assert http.get(f"{fake.url}/_faults").json()["faults"] == "facebook:error500:1"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("clip.mp4", "video/mp4"), ("a.jpg", "image/jpeg"), ("x", "application/octet-stream")],
)
def test_media_is_served_locally_with_its_content_type(
    fake: FakePlatformServer, name: str, content_type: str
) -> None:
    answer = httpx.get(f"{fake.url}/_media/{name}", params={"bytes": "300"})
    assert answer.headers["Content-Type"] == content_type
    assert len(answer.content) == 300


# -- each fault on the wire ------------------------------------------------------------------------


def test_lost_response_applies_the_post_then_hangs_up(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("facebook:lost_response:1"))
    with httpx.Client() as http, pytest.raises(httpx.RemoteProtocolError):
        post_to_page(http, fake, "applied but unanswered")
    assert [e["text"] for e in fake.received()] == ["applied but unanswered"]


def test_timeout_holds_past_the_client_and_never_applies(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("facebook:timeout:1"))
    with httpx.Client(timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
        post_to_page(http, fake, "held")
    assert fake.received() == []


def test_rate_limit_answers_429_with_the_platforms_headers(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("facebook:rate_limit:1,twitter:rate_limit:1"))
    with httpx.Client() as http:
        page = post_to_page(http, fake, "throttled")
        assert page.status_code == 429
        assert page.headers["Retry-After"] == "1"
        assert page.json()["error"]["code"] == 32
        usage = json.loads(page.headers["X-Business-Use-Case-Usage"])
        assert next(iter(usage.values()))[0]["estimated_time_to_regain_access"] >= 1
        x = tweet(http, fake, "throttled")
        assert x.status_code == 429
        assert x.headers["x-rate-limit-remaining"] == "0"
        assert int(x.headers["x-rate-limit-reset"]) > 0
    assert fake.received() == []


def test_error500_answers_the_platforms_own_body(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("twitter:error500:1"))
    with httpx.Client() as http:
        answer = tweet(http, fake, "boom")
    assert answer.status_code == 500
    assert answer.json()["title"] == "Internal Server Error"
    assert fake.received() == []


def test_a_fault_on_one_platform_leaves_the_others_alone(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("facebook:error500:1"))
    with httpx.Client() as http:
        assert tweet(http, fake, "fine").status_code == 201


def test_wrong_tokens_get_each_platforms_auth_error(fake: FakePlatformServer) -> None:
    with httpx.Client() as http:
        page = http.post(
            f"{fake.url}/facebook/v23.0/{PAGE}/feed",
            data={"message": "m"},
            headers={"Authorization": "Bearer nope"},
        )
        other_page = http.post(
            f"{fake.url}/facebook/v23.0/999/feed",
            data={"message": "m"},
            headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
        )
        x = http.post(f"{fake.url}/x/2/tweets", json={"text": "t"}, headers={"Authorization": "Bearer nope"})
    assert page.json()["error"]["code"] == 190
    assert other_page.json()["error"]["code"] == 190
    assert x.status_code == 401
    assert fake.received() == []


# -- reproducibility and rates ---------------------------------------------------------------------


def _outcomes(seed: int, texts: list[str]) -> list[int]:
    with FakePlatformServer(faults=FaultSpec.parse("facebook:error500:0.5"), seed=seed) as server:
        server.register_account(Platform.FACEBOOK, PAGE, PAGE_TOKEN)
        with httpx.Client() as http:
            return [post_to_page(http, server, text).status_code for text in texts]


def test_the_same_seed_injects_the_same_faults() -> None:
    texts = [f"post {n}" for n in range(24)]
    assert _outcomes(7, texts) == _outcomes(7, texts)
    assert _outcomes(7, texts) != _outcomes(8, texts)
    assert set(_outcomes(7, texts)) == {200, 500}


def test_a_fault_rate_is_the_share_of_attempts_it_hits() -> None:
    with FakePlatformServer(faults=FaultSpec.parse("facebook:error500:0.3"), seed=11) as server:
        server.register_account(Platform.FACEBOOK, PAGE, PAGE_TOKEN)
        with httpx.Client() as http:
            failures = sum(post_to_page(http, server, f"n{n}").status_code == 500 for n in range(400))
    assert 0.22 <= failures / 400 <= 0.38


def test_a_retry_of_the_same_text_draws_again(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec.parse("facebook:error500:0.5"), seed=3)
    with httpx.Client() as http:
        codes = [post_to_page(http, fake, "same text").status_code for _ in range(30)]
    assert set(codes) == {200, 500}


def test_concurrent_publishes_are_each_recorded_once(fake: FakePlatformServer) -> None:
    texts = [f"concurrent {uuid.uuid4().hex}" for _ in range(60)]
    with httpx.Client() as http, ThreadPoolExecutor(max_workers=12) as pool:
        ids = list(pool.map(lambda text: post_to_page(http, fake, text).json()["id"], texts))
    received = fake.received()
    assert sorted(e["text"] for e in received) == sorted(texts)
    assert len(set(ids)) == len(texts)
    assert sorted(e["postId"] for e in received) == sorted(ids)


def test_a_burst_of_new_connections_is_accepted(fake: FakePlatformServer) -> None:
    clients = 96
    start = threading.Barrier(clients)

    # No kept-alive connections: each request opens its own, all at the same moment.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)

    def one(http: httpx.Client, n: int) -> int:
        start.wait()
        return post_to_page(http, fake, f"burst {n}").status_code

    with httpx.Client(timeout=30, limits=limits) as http, ThreadPoolExecutor(max_workers=clients) as pool:
        codes = list(pool.map(lambda n: one(http, n), range(clients)))
    assert codes == [200] * clients
    assert len(fake.received()) == clients


# -- as a process ----------------------------------------------------------------------------------


def _start_process(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "infra.local.fakes.platforms", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_as_a_process_it_prints_its_url_serves_and_exits_cleanly(stop: signal.Signals) -> None:
    process = _start_process("--port", "0", "--faults", "facebook:error500:0.5", "--seed", "3")
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("fake platforms: http://127.0.0.1:")
        url = line.removeprefix("fake platforms: ")
        assert httpx.get(f"{url}/_faults").json() == {"faults": "facebook:error500:0.5", "seed": 3}
        assert httpx.get(f"{url}/_received").json() == []
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_as_a_process_a_malformed_fault_spec_stops_it_with_the_reason() -> None:
    process = _start_process("--faults", "facebook:error500:2")
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "outside 0..1" in stderr


def test_client_env_points_each_client_at_its_prefix(fake: FakePlatformServer) -> None:
    assert fake.client_env() == {
        "TIDINGS_FACEBOOK_API_BASE": f"{fake.url}/facebook/v23.0",
        "TIDINGS_INSTAGRAM_API_BASE": f"{fake.url}/instagram/v23.0",
        "TIDINGS_X_API_BASE": f"{fake.url}/x",
        "TIDINGS_LINKEDIN_API_BASE": f"{fake.url}/linkedin",
        "TIDINGS_YOUTUBE_API_BASE": f"{fake.url}/youtube",
        "TIDINGS_TIKTOK_API_BASE": f"{fake.url}/tiktok",
        "TIDINGS_LINKEDIN_OAUTH_BASE": f"{fake.url}/linkedin-oauth",
        "TIDINGS_GOOGLE_OAUTH_BASE": f"{fake.url}/google-oauth",
        "TIDINGS_WHATSAPP_API_BASE": f"{fake.url}/whatsapp/v23.0",
    }
    assert client_env_for(fake.url + "/") == fake.client_env()
