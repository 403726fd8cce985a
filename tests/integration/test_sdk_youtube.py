"""The fake YouTube Data API through google-api-python-client (Google's official client), built from
the YouTube v3 discovery document the package ships (no network), with the document's `rootUrl`
pointing at the fake: the token's channel, a resumable upload in 256 KiB chunks, videos.list and
search.list, an expired token renewed through google-auth at the fake's token endpoint, errors as the
client's exceptions, and videos' statistics as Tidings' own reader reports them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import PostMetrics
from tidings.publishing.clients.youtube import YouTubeClient

CHANNEL, TOKEN = "UCfakeChannel0001", "ya29.fake-token"
CLIENT_ID, CLIENT_SECRET = "fake-app.apps.googleusercontent.com", "fake-secret"
CHUNK = 256 * 1024  # resumable chunks are multiples of 256 KiB


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(hold_seconds=1.0) as server:
        server.register_account(Platform.YOUTUBE, CHANNEL, TOKEN)
        yield server


def youtube_for(fake: FakePlatformServer, credentials: Credentials | None = None) -> Any:
    document = json.loads(get_static_doc("youtube", "v3") or "{}")
    document["rootUrl"] = f"{fake.url}/youtube/"
    return build_from_document(document, credentials=credentials or Credentials(TOKEN))


@pytest.fixture
def youtube(fake: FakePlatformServer) -> Any:
    return youtube_for(fake)


def upload(youtube: Any, media: bytes, title: str, chunksize: int = CHUNK) -> dict[str, Any]:
    body = {
        "snippet": {"title": title, "description": "Tour of 12 Elm St"},
        "status": {"privacyStatus": "unlisted"},
    }
    stream = MediaIoBaseUpload(io.BytesIO(media), mimetype="video/mp4", chunksize=chunksize, resumable=True)
    request = youtube.videos().insert(part="snippet,status", body=body, media_body=stream)
    response = None
    while response is None:
        _, response = request.next_chunk()
    assert isinstance(response, dict)
    return response


def test_channels_list_mine_answers_the_token_channel(youtube: Any) -> None:
    answer = youtube.channels().list(part="id,snippet", mine=True).execute()

    assert answer["kind"] == "youtube#channelListResponse"
    assert [item["id"] for item in answer["items"]] == [CHANNEL]
    assert answer["items"][0]["snippet"]["title"] == f"Channel {CHANNEL}"


def test_a_chunked_resumable_upload_publishes_the_whole_video(youtube: Any, fake: FakePlatformServer) -> None:
    url = fake.media_url("tour.mp4") + "?bytes=600000"
    media = httpx.get(url, timeout=10).content

    video = upload(youtube, media, "Open house tour")

    assert video["kind"] == "youtube#video"
    assert video["snippet"]["title"] == "Open house tour"
    assert video["status"]["privacyStatus"] == "unlisted"
    received = [r for r in fake.received() if r["postId"] == video["id"]]
    assert [(r["title"], r["mediaBytes"], r["mediaUrls"]) for r in received] == [
        ("Open house tour", 600000, [url])
    ]
    assert fake.calls()["youtube.upload.put"] >= 3  # 600,000 bytes in 256 KiB chunks


def test_videos_list_and_search_read_the_upload_back(youtube: Any) -> None:
    video = upload(youtube, b"\x00" * 1000, "Backyard", chunksize=-1)

    listed = youtube.videos().list(part="snippet,statistics", id=video["id"]).execute()
    found = youtube.search().list(part="snippet", forMine=True, type="video", maxResults=50).execute()

    assert [(v["id"], v["snippet"]["title"]) for v in listed["items"]] == [(video["id"], "Backyard")]
    assert listed["items"][0]["statistics"]["viewCount"] == "0"
    assert "status" not in listed["items"][0]
    assert video["id"] in [item["id"]["videoId"] for item in found["items"]]


def test_an_expired_token_is_renewed_at_the_token_endpoint_and_the_call_retried(
    fake: FakePlatformServer,
) -> None:
    fake.set_oauth_client(Platform.YOUTUBE, CLIENT_ID, CLIENT_SECRET)
    expired, refresh = "ya29.expired", "1//refresh-token"
    fake.register_account(
        Platform.YOUTUBE,
        CHANNEL,
        expired,
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
        refresh_token=refresh,
    )
    credentials = Credentials(
        expired,
        refresh_token=refresh,
        token_uri=f"{fake.url}/google-oauth/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    try:
        answer = youtube_for(fake, credentials).channels().list(part="id", mine=True).execute()
    finally:
        fake.register_account(Platform.YOUTUBE, CHANNEL, TOKEN)

    assert [item["id"] for item in answer["items"]] == [CHANNEL]
    assert credentials.token != expired
    assert credentials.expiry is not None


def test_a_revoked_refresh_token_is_google_auths_invalid_grant(fake: FakePlatformServer) -> None:
    fake.set_oauth_client(Platform.YOUTUBE, CLIENT_ID, CLIENT_SECRET)
    credentials = Credentials(
        "ya29.wrong",
        refresh_token="1//revoked",
        token_uri=f"{fake.url}/google-oauth/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )

    with pytest.raises(RefreshError, match="invalid_grant"):
        youtube_for(fake, credentials).channels().list(part="id", mine=True).execute()


def test_a_throttled_upload_is_the_clients_http_error_429(fake: FakePlatformServer, youtube: Any) -> None:
    fake.set_faults(FaultSpec.parse("youtube:rate_limit:1"))
    try:
        with pytest.raises(HttpError) as raised:
            upload(youtube, b"\x01" * 100, "Throttled", chunksize=-1)
    finally:
        fake.set_faults(FaultSpec())

    assert raised.value.status_code == 429
    assert raised.value.error_details[0]["reason"] == "rateLimitExceeded"


def test_videos_statistics_are_what_tidings_reads(youtube: Any, fake: FakePlatformServer) -> None:
    ids = [upload(youtube, bytes([n]) * 500, f"Room {n}", chunksize=-1)["id"] for n in range(3)]
    for n, video_id in enumerate(ids):
        fake.set_metrics(
            Platform.YOUTUBE, video_id, {"views": 1500 + n, "likes": 60, "comments": 7}, grow=False
        )

    answer = youtube.videos().list(part="statistics", id=",".join(ids)).execute()
    with httpx.Client() as http:
        reads = YouTubeClient(Settings.from_env(fake.client_env()), http).read_metrics(
            AccountCredentials(Platform.YOUTUBE, CHANNEL, TOKEN), ids
        )

    assert [item["id"] for item in answer["items"]] == ids
    for item in answer["items"]:
        statistics, read = item["statistics"], reads[item["id"]]
        assert isinstance(read, PostMetrics)
        assert (read.views, read.likes, read.comments) == (
            int(statistics["viewCount"]),
            int(statistics["likeCount"]),
            int(statistics["commentCount"]),
        )
