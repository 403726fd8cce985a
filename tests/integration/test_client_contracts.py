"""Every real platform client against the local fake platform server, over real HTTP on loopback:
publishing, read-back after a lost answer, nothing found after a timeout, each injected fault's
error kind, a wrong token, LinkedIn's retired version, and the multi-step flows (Instagram's
container, TikTok's publish status, YouTube's resumable upload)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from platform_accounts import ACCOUNTS, PLATFORMS, publisher

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.publishing.base import PlatformClient, PublishRequest
from tidings.publishing.clients import build_client, default_http_client

CLIENT_TIMEOUT = 1.5  # seconds (a busy machine can take 0.5 s); the fake holds a `timeout` fault 3 s


def token(platform: Platform) -> str:
    return f"token-for-{platform}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    server = FakePlatformServer(hold_seconds=3.0, instagram_video_seconds=0.2, tiktok_processing_seconds=0.2)
    server.start()
    for platform, account_id in ACCOUNTS.items():
        server.register_account(platform, account_id, token(platform))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _calm(fake: FakePlatformServer) -> None:
    fake.set_faults(FaultSpec())
    fake.tiktok_processing_seconds = 0.2
    fake.instagram_video_seconds = 0.2


@pytest.fixture(scope="module")
def settings(fake: FakePlatformServer) -> Settings:
    # The fake serves the posts' media over http on loopback: the media fetch must be allowed there.
    env = {**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT)}
    return Settings.from_env({**env, "TIDINGS_ALLOW_PRIVATE_LINKS": "true"})


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    client = default_http_client(settings)
    try:
        yield client
    finally:
        client.close()


def request_for(platform: Platform, fake: FakePlatformServer, *, video: bool = False) -> PublishRequest:
    text = f"Open house this Sunday (2-4pm) #home {uuid.uuid4().hex[:10]} & more"
    media: tuple[str, ...] = ()
    if platform in (Platform.YOUTUBE, Platform.TIKTOK) or (platform is Platform.INSTAGRAM and video):
        media = (fake.media_url("tour.mp4"),)
    elif platform is Platform.INSTAGRAM:
        media = (fake.media_url("front.jpg"),)
    title = "Open house tour" if platform is Platform.YOUTUBE else None
    link = "https://example.com/listing/12" if platform is Platform.FACEBOOK else None
    return PublishRequest(post_id=uuid.uuid4().hex, text=text, link=link, media_urls=media, title=title)


def credentials(platform: Platform, access_token: str | None = None) -> AccountCredentials:
    return AccountCredentials(platform, ACCOUNTS[platform], access_token or token(platform))


def received_for(fake: FakePlatformServer, platform: Platform, text: str) -> list[dict[str, object]]:
    return [r for r in fake.received() if r["platform"] == str(platform) and r["text"] == text]


def publish_failure(client: PlatformClient, platform: Platform, request: PublishRequest) -> PlatformCallError:
    with pytest.raises(PlatformCallError) as caught:
        client.publish(credentials(platform), request)
    return caught.value


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_post_goes_out_once_and_reads_back(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(platform, settings, http)
    request = request_for(platform, fake)
    since = datetime.now(UTC)
    published = client.publish(credentials(platform), request)
    entries = received_for(fake, platform, request.text)
    assert len(entries) == 1
    assert entries[0]["accountId"] == ACCOUNTS[platform]
    assert entries[0]["postId"] == published.platform_post_id
    assert published.url
    found = client.find_published(credentials(platform), request, since)
    assert found is not None
    assert found.platform_post_id == published.platform_post_id


@pytest.mark.parametrize("platform", PLATFORMS)
def test_after_a_lost_answer_the_read_back_finds_the_post(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(platform, settings, http)
    request = request_for(platform, fake)
    fake.tiktok_processing_seconds = 0.0  # TikTok lists a video once it is processed
    fake.set_faults(FaultSpec.parse(f"{platform}:lost_response:1"))
    since = datetime.now(UTC)
    error = publish_failure(client, platform, request)
    assert error.kind is ErrorKind.UNKNOWN_OUTCOME
    fake.set_faults(FaultSpec())
    entries = received_for(fake, platform, request.text)
    assert len(entries) == 1
    found = client.find_published(credentials(platform), request, since)
    assert found is not None
    assert found.platform_post_id == entries[0]["postId"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_after_a_timeout_the_read_back_finds_nothing(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(platform, settings, http)
    request = request_for(platform, fake)
    fake.set_faults(FaultSpec.parse(f"{platform}:timeout:1"))
    since = datetime.now(UTC)
    error = publish_failure(client, platform, request)
    assert error.kind is ErrorKind.UNKNOWN_OUTCOME
    fake.set_faults(FaultSpec())
    assert client.find_published(credentials(platform), request, since) is None
    assert received_for(fake, platform, request.text) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_server_error_is_retryable_and_publishes_nothing(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    request = request_for(platform, fake)
    fake.set_faults(FaultSpec.parse(f"{platform}:error500:1"))
    error = publish_failure(publisher(platform, settings, http), platform, request)
    assert error.kind is ErrorKind.RETRYABLE
    assert error.status == 500
    assert received_for(fake, platform, request.text) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_throttle_is_rate_limited_with_when_to_retry(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    request = request_for(platform, fake)
    fake.set_faults(FaultSpec.parse(f"{platform}:rate_limit:1"))
    error = publish_failure(publisher(platform, settings, http), platform, request)
    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == pytest.approx(fake.retry_after, abs=1.0)
    assert received_for(fake, platform, request.text) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_wrong_token_is_an_expired_authorization(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    request = request_for(platform, fake)
    client = publisher(platform, settings, http)
    with pytest.raises(PlatformCallError) as caught:
        client.publish(credentials(platform, "not-the-right-token"), request)
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    assert "not-the-right-token" not in str(caught.value)
    assert received_for(fake, platform, request.text) == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_faults_leave_read_backs_alone(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(platform, settings, http)
    request = request_for(platform, fake)
    since = datetime.now(UTC)
    published = client.publish(credentials(platform), request)
    fake.set_faults(FaultSpec.parse(f"{platform}:error500:1,{platform}:timeout:1"))
    found = client.find_published(credentials(platform), request, since)
    assert found is not None
    assert found.platform_post_id == published.platform_post_id


def test_linkedin_retired_version_says_to_update_the_setting(
    fake: FakePlatformServer, http: httpx.Client
) -> None:
    old = Settings.from_env({**fake.client_env(), "TIDINGS_LINKEDIN_VERSION": "202301"})
    request = request_for(Platform.LINKEDIN, fake)
    error = publish_failure(build_client(Platform.LINKEDIN, old, http), Platform.LINKEDIN, request)
    assert error.kind is ErrorKind.PERMANENT
    assert error.status == 426
    assert "update TIDINGS_LINKEDIN_VERSION" in error.message
    assert received_for(fake, Platform.LINKEDIN, request.text) == []


def test_instagram_reel_waits_for_its_container(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    before = fake.calls().get("instagram.container.status", 0)
    request = request_for(Platform.INSTAGRAM, fake, video=True)
    published = publisher(Platform.INSTAGRAM, settings, http).publish(
        credentials(Platform.INSTAGRAM), request
    )
    polls = fake.calls()["instagram.container.status"] - before
    assert polls >= 2  # IN_PROGRESS at least once, then FINISHED
    entries = received_for(fake, Platform.INSTAGRAM, request.text)
    assert [e["postId"] for e in entries] == [published.platform_post_id]
    assert entries[0]["mediaUrls"] == list(request.media_urls)


def test_tiktok_polls_the_publish_until_complete(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    before = fake.calls().get("tiktok.status", 0)
    request = request_for(Platform.TIKTOK, fake)
    published = publisher(Platform.TIKTOK, settings, http).publish(credentials(Platform.TIKTOK), request)
    assert fake.calls()["tiktok.status"] - before >= 2  # PROCESSING_DOWNLOAD, then PUBLISH_COMPLETE
    assert published.url is not None
    assert published.url.endswith(f"/video/{published.platform_post_id}")
    assert received_for(fake, Platform.TIKTOK, request.text)[0]["mediaUrls"] == list(request.media_urls)


def test_youtube_uploads_the_video_bytes_through_a_resumable_session(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    request = PublishRequest(
        post_id="yt-1",
        text=f"Walkthrough {uuid.uuid4().hex[:8]}",
        media_urls=(fake.media_url("walkthrough.mp4") + "?bytes=70000",),
        title="Walkthrough",
    )
    published = build_client(Platform.YOUTUBE, settings, http).publish(credentials(Platform.YOUTUBE), request)
    (entry,) = received_for(fake, Platform.YOUTUBE, request.text)
    assert entry["mediaUrls"] == list(request.media_urls)
    assert entry["mediaBytes"] == 70000
    assert entry["contentType"] == "video/mp4"
    assert entry["title"] == "Walkthrough"
    assert published.url == f"https://www.youtube.com/watch?v={published.platform_post_id}"


def test_linkedin_hashtags_and_reserved_characters_arrive_as_written(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    text = f"Q&A (live) [today] #RealEstate_Tips @ noon {uuid.uuid4().hex[:8]}"
    build_client(Platform.LINKEDIN, settings, http).publish(
        credentials(Platform.LINKEDIN), PublishRequest("p", text)
    )
    assert len(received_for(fake, Platform.LINKEDIN, text)) == 1


@pytest.mark.parametrize(
    ("platform", "names"),
    [
        (Platform.TWITTER, ["front.jpg"]),
        (Platform.TWITTER, ["front.jpg", "kitchen.png", "yard.jpg"]),
        (Platform.TWITTER, ["tour.mp4?bytes=9000000"]),
        (Platform.LINKEDIN, ["front.jpg"]),
        (Platform.LINKEDIN, ["front.jpg", "kitchen.png"]),
        (Platform.LINKEDIN, ["tour.mp4?bytes=9000000"]),
        (Platform.FACEBOOK, ["front.jpg", "kitchen.png"]),
    ],
)
def test_media_is_uploaded_and_attached(
    platform: Platform, names: list[str], fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(platform, settings, http)
    media = tuple(f"{fake.url}/_media/{name}" for name in names)
    request = PublishRequest(
        post_id="m", text=f"With media {uuid.uuid4().hex[:8]}", media_urls=media, title="Tour"
    )
    since = datetime.now(UTC)
    published = client.publish(credentials(platform), request)
    (entry,) = received_for(fake, platform, request.text)
    assert entry["mediaUrls"] == list(media)  # what the platform received came from the post's media
    found = client.find_published(credentials(platform), request, since)
    assert found is not None
    assert found.platform_post_id == published.platform_post_id


@pytest.mark.parametrize("platform", [Platform.TWITTER, Platform.LINKEDIN])
def test_a_lost_answer_after_a_media_upload_still_reads_back(
    platform: Platform, fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(platform, settings, http)
    request = PublishRequest(
        post_id="m", text=f"Lost {uuid.uuid4().hex[:8]}", media_urls=(fake.media_url("a.jpg"),)
    )
    fake.set_faults(FaultSpec.parse(f"{platform}:lost_response:1"))
    since = datetime.now(UTC)
    assert publish_failure(client, platform, request).kind is ErrorKind.UNKNOWN_OUTCOME
    fake.set_faults(FaultSpec())
    assert len(received_for(fake, platform, request.text)) == 1
    assert client.find_published(credentials(platform), request, since) is not None


# -- X threads ---------------------------------------------------------------------------------------


def _thread(fake: FakePlatformServer, parts: int) -> PublishRequest:
    tag = uuid.uuid4().hex[:8]
    return PublishRequest(
        post_id=tag,
        text=f"Market update {tag}: prices (1/{parts + 1})",
        thread=tuple(f"Market update {tag}: part {i + 2}/{parts + 1}" for i in range(parts)),
    )


def test_an_x_thread_goes_out_as_a_chain_of_replies(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(Platform.TWITTER, settings, http)
    request = _thread(fake, 2)
    since = datetime.now(UTC)

    published = client.publish(credentials(Platform.TWITTER), request)

    chain = [received_for(fake, Platform.TWITTER, text) for text in (request.text, *request.thread)]
    assert [len(entries) for entries in chain] == [1, 1, 1]
    head, second, third = (entries[0] for entries in chain)
    assert published.platform_post_id == head["postId"]
    assert "inReplyTo" not in head
    assert (second["inReplyTo"], third["inReplyTo"]) == (head["postId"], second["postId"])
    found = client.find_published(credentials(Platform.TWITTER), request, since)
    assert found is not None
    assert found.platform_post_id == head["postId"]


def test_an_interrupted_x_thread_resumes_without_posting_a_part_twice(
    fake: FakePlatformServer, settings: Settings, http: httpx.Client
) -> None:
    client = publisher(Platform.TWITTER, settings, http)
    request = _thread(fake, 2)
    since = datetime.now(UTC)
    fake.set_faults(FaultSpec.parse("twitter:lost_response:1"))
    assert publish_failure(client, Platform.TWITTER, request).kind is ErrorKind.UNKNOWN_OUTCOME
    fake.set_faults(FaultSpec())

    # only the first post went out: the read-back says "not published", so publishing again resumes
    assert client.find_published(credentials(Platform.TWITTER), request, since) is None
    published = client.publish(credentials(Platform.TWITTER), request)

    chain = [received_for(fake, Platform.TWITTER, text) for text in (request.text, *request.thread)]
    assert [len(entries) for entries in chain] == [1, 1, 1]
    assert published.platform_post_id == chain[0][0]["postId"]
    assert chain[1][0]["inReplyTo"] == chain[0][0]["postId"]
