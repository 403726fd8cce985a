"""YouTube Data API v3 on the fake platform server, under /youtube/:

    POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status   a resumable session
                                     (metadata in the body; X-Upload-Content-Length/-Type), answering
                                     200 with the session URL in Location
    PUT  <Location>                  the bytes, whole or in chunks (Content-Range)
    GET  /youtube/v3/search?forMine=true&type=video     read-back, newest first
    GET  /youtube/v3/videos?id=&part=                   videos by id (up to 50), part snippet,
                                                        status, statistics
    GET  /youtube/v3/channels?part=id,snippet&mine=true the token's channel (connection check)
    GET  /youtube/v3/commentThreads, GET|POST /youtube/v3/comments   comments: `infra.local.fakes.comments`

Sources (developers.google.com/youtube/v3): "Resumable Uploads" (the session, then PUT; a chunk is
sent with `Content-Range: bytes first-last/total`, a status check with `bytes */total`; 308 "Resume
Incomplete" with `Range: bytes=0-<last received>` until the last byte, then 201 with the video),
"Videos: insert", "Videos: list", "Search: list", "Channels: list"; errors in Google's JSON error
format. A videos.list asking for `statistics` is a metric read: viewCount, likeCount and commentCount
(digit strings) come from `infra.local.fakes.metrics` and the faults apply to it. More than 50 ids
answer 400: the reference gives the limit but no error reason for it, so the fake answers
`invalidParameter`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from infra.local.fakes import comments, metrics
from infra.local.fakes.base import Outcome, Reply, Request, iso_z
from infra.local.fakes.profiles import PROFILES, bearer_account, google_error, metric_read, publish
from infra.local.fakes.state import Post
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

PLATFORM = Platform.YOUTUBE
VIDEOS_LIST_MAX = 50
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<first>\d+)-(?P<last>\d+)|\*)/(?P<total>\d+|\*)")


def route(fake: FakePlatformServer, req: Request) -> Outcome:
    parts = req.segments[1:]
    if parts == ["upload", "youtube", "v3", "videos"] and req.method == "PUT":
        fake.store.count("youtube.upload.put")
        return _upload(fake, req)
    found = _ROUTES.get((req.method, tuple(parts[:4] if parts[:1] == ["upload"] else parts[:3])))
    if found is None:
        return google_error(404, "notFound", f"No route {req.method} {req.path}", state="NOT_FOUND")
    name, handler = found
    fake.store.count(name)
    account = bearer_account(fake, PLATFORM, req)
    return account if isinstance(account, Reply) else handler(fake, req, account)


def _session(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    if req.query.get("uploadType") != "resumable" or "snippet" not in req.query.get("part", ""):
        return google_error(400, "invalidParameter", "uploadType=resumable and part=snippet are required")
    resource = req.json_object()
    snippet = resource.get("snippet") if isinstance(resource.get("snippet"), dict) else {}
    title = snippet.get("title") if isinstance(snippet, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title) > 100 or "<" in title or ">" in title:
        return google_error(
            400, "invalidTitle", "The request metadata specifies an invalid video title.", "youtube.video"
        )
    declared = req.headers.get("X-Upload-Content-Length")
    upload_id = hashlib.sha1(f"{time.time()}-{fake.store.next_id()}".encode()).hexdigest()  # noqa: S324
    with fake.store.lock:
        fake.store.objects[upload_id] = {
            "kind": "yt_session",
            "owner": account,
            "resource": resource,
            "length": int(declared) if declared and declared.isdigit() else None,
            "content_type": req.headers.get("X-Upload-Content-Type") or "video/*",
            "done": None,
        }
    part = quote(req.query["part"], safe=",")
    location = f"{req.base_url}{req.path}?uploadType=resumable&part={part}&upload_id={upload_id}"
    return Reply(200, None, {"Location": location, "X-GUploader-UploadID": upload_id})


def _upload(fake: FakePlatformServer, req: Request) -> Outcome:
    """A PUT of the bytes: the whole upload, or one chunk with `Content-Range: bytes first-last/total`
    (`*/total` asks how much arrived). Until every byte is in, 308 with `Range: bytes=0-<last>`."""
    store, platform = fake.store, Platform.YOUTUBE
    upload_id = req.query.get("upload_id", "")
    with store.lock:
        session = dict(store.objects.get(upload_id) or {})
    if session.get("kind") != "yt_session":
        return google_error(404, "notFound", "Upload session not found", state="NOT_FOUND")
    if req.bearer is not None and store.account_for(platform, req.bearer) != session["owner"]:
        return PROFILES[platform].auth_error()
    if session.get("done"):
        return Reply(200, session["done"])
    received = _received(req, session)
    if isinstance(received, Reply):
        return received
    data, total = received
    with store.lock:
        store.objects[upload_id]["received"] = data
    if total is None or len(data) < total:
        return Reply(308, None, {"Range": f"bytes=0-{len(data) - 1}"} if data else {})
    resource = session["resource"]
    snippet = dict(resource.get("snippet") or {})
    status = dict(resource.get("status") or {})
    description = str(snippet.get("description", ""))

    def apply() -> Reply:
        created = time.time()
        video_id = base64.urlsafe_b64encode(hashlib.sha1(upload_id.encode()).digest()[:8]).decode()[:11]  # noqa: S324
        snippet.update(publishedAt=iso_z(created).replace(".000Z", "Z"), channelId=session["owner"])
        status.update(uploadStatus="uploaded", privacyStatus=status.get("privacyStatus", "public"))
        video = {"kind": "youtube#video", "id": video_id, "snippet": snippet, "status": status}
        source = store.media_source(data)
        media = [source] if source else []
        title = str(snippet.get("title"))
        post = Post(platform, session["owner"], video_id, description, created, media, None, title)
        post.extra["video"] = video
        with store.lock:
            store.objects[upload_id]["done"] = video
        store.apply(post, mediaBytes=len(data), contentType=req.headers.get("Content-Type"))
        return Reply(201, video)

    return publish(fake, platform, session["owner"], description, apply)


def _received(req: Request, session: dict[str, Any]) -> tuple[bytes, int | None] | Reply:
    """Every byte of the upload so far with this request's, and the total size when known."""
    header = (req.headers.get("Content-Range") or "").strip()
    if not header:
        return req.body, session["length"] or len(req.body)
    match = _CONTENT_RANGE.fullmatch(header)
    if match is None:
        return google_error(400, "badContent", f"Invalid Content-Range {header!r}")
    first, last, size = match.group("first"), match.group("last"), match.group("total")
    total = int(size) if size != "*" else session["length"]
    so_far: bytes = session.get("received", b"")
    if first is None:  # a status check: bytes */total
        return so_far, total
    if int(first) != len(so_far) or int(last) - int(first) + 1 != len(req.body):
        return google_error(400, "badContent", f"Content-Range {header!r} does not follow byte {len(so_far)}")
    return so_far + req.body, total


def _search(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    if req.query.get("forMine") != "true" or req.query.get("type") != "video":
        return google_error(400, "invalidSearchFilter", "forMine=true requires type=video", "youtube.search")
    try:
        limit = max(0, min(int(req.query.get("maxResults", "5")), 50))
        offset = int(req.query.get("pageToken", "0") or 0)
    except ValueError:
        return google_error(400, "invalidPageToken", "The request specifies an invalid page token.")
    videos = fake.store.listed(Platform.YOUTUBE, account)
    items = [
        {
            "kind": "youtube#searchResult",
            "id": {"kind": "youtube#video", "videoId": p.post_id},
            "snippet": {
                "publishedAt": p.extra["video"]["snippet"]["publishedAt"],
                "channelId": account,
                "title": html.escape(p.title or ""),
                "description": p.text[:160],
            },
        }
        for p in videos[offset : offset + limit]
    ]
    body: dict[str, Any] = {
        "kind": "youtube#searchListResponse",
        "pageInfo": {"totalResults": len(videos), "resultsPerPage": limit},
        "items": items,
    }
    if offset + limit < len(videos):
        body["nextPageToken"] = str(offset + limit)
    return Reply(200, body)


def _videos(fake: FakePlatformServer, req: Request, account: str) -> Outcome:
    """videos.list by `id` (comma-separated), with the `part`s asked for (snippet, status, statistics)."""
    parts = [p.strip() for p in req.query.get("part", "").split(",") if p.strip()]
    if not parts:
        return google_error(400, "required", "Required parameter: part", state="INVALID_ARGUMENT")
    wanted = [v for v in req.query.get("id", "").split(",") if v]
    if len(wanted) > VIDEOS_LIST_MAX:
        message = f"The request specifies {len(wanted)} video ids; at most {VIDEOS_LIST_MAX} are allowed."
        return google_error(400, "invalidParameter", message, "youtube.parameter", "INVALID_ARGUMENT")
    by_id = {p.post_id: p for p in fake.store.listed(Platform.YOUTUBE, account)}
    found = [by_id[v] for v in wanted if v in by_id]

    def apply() -> Reply:
        items = []
        for post in found:
            stored = post.extra["video"]
            item: dict[str, Any] = {"kind": "youtube#video", "id": post.post_id}
            item.update({p: stored[p] for p in ("snippet", "status") if p in parts})
            if "statistics" in parts:
                with fake.store.lock:
                    counts = metrics.counts(post)
                item["statistics"] = {
                    "viewCount": str(counts["views"]),
                    "likeCount": str(counts["likes"]),
                    "favoriteCount": "0",
                    "commentCount": str(counts["comments"]),
                }
            items.append(item)
        page_info = {"totalResults": len(items), "resultsPerPage": len(items)}
        return Reply(200, {"kind": "youtube#videoListResponse", "items": items, "pageInfo": page_info})

    if "statistics" in parts:
        fake.store.count("youtube.videos.statistics")
        return metric_read(fake, PLATFORM, account, wanted, apply)
    return apply()


def _channels(fake: FakePlatformServer, req: Request, account: str) -> Reply:
    """channels.list with mine=true: the channel the token's user owns."""
    parts = [p.strip() for p in req.query.get("part", "").split(",") if p.strip()]
    if not parts:
        return google_error(400, "required", "Required parameter: part", state="INVALID_ARGUMENT")
    if req.query.get("mine") != "true":
        return google_error(
            400, "missingRequiredParameter", "No filter selected. Expected: mine", state="INVALID_ARGUMENT"
        )
    channel: dict[str, Any] = {"kind": "youtube#channel", "id": account}
    if "snippet" in parts:
        channel["snippet"] = {
            "title": f"Channel {account}",
            "description": "",
            "customUrl": f"@channel{account.lower()}",
            "publishedAt": "2020-01-01T00:00:00Z",
        }
    return Reply(
        200,
        {
            "kind": "youtube#channelListResponse",
            "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
            "items": [channel],
        },
    )


_ROUTES: dict[
    tuple[str, tuple[str, ...]], tuple[str, Callable[[FakePlatformServer, Request, str], Outcome]]
] = {
    ("POST", ("upload", "youtube", "v3", "videos")): ("youtube.upload.start", _session),
    ("GET", ("youtube", "v3", "search")): ("youtube.search.read", _search),
    ("GET", ("youtube", "v3", "videos")): ("youtube.videos.read", _videos),
    ("GET", ("youtube", "v3", "channels")): ("youtube.channels.read", _channels),
    ("GET", ("youtube", "v3", "commentThreads")): ("youtube.comments.read", comments.youtube_threads),
    ("POST", ("youtube", "v3", "comments")): ("youtube.comments.insert", comments.youtube_insert),
    ("GET", ("youtube", "v3", "comments")): ("youtube.comments.replies", comments.youtube_replies),
}
